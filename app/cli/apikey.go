package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/oncall/pager/app/jsondoc"
	"github.com/oncall/pager/app/team"
)

// apikeyCmd mints API keys for the alert API. The config only ever holds a
// key's SHA-256, so the key is shown once, here, and nowhere else.
func apikeyCmd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "new" {
		return usageError{errors.New("want: apikey new NAME [--can-read] [--write FILE] [--replace]")}
	}
	fset := flag.NewFlagSet("apikey new", flag.ContinueOnError)
	fset.SetOutput(stderr)
	canRead := fset.Bool("can-read", false, "the key may also read contacts and groups (GET)")
	file := fset.String("write", "", "add the entry to the config FILE (validated; everything else in it is kept)")
	replace := fset.Bool("replace", false, "with --write: replace an existing key of that name (rotation)")
	// Flags may come before or after NAME.
	var names []string
	rest := args[1:]
	for {
		if err := fset.Parse(rest); err != nil {
			return usageError{err}
		}
		if fset.NArg() == 0 {
			break
		}
		names = append(names, fset.Arg(0))
		rest = fset.Args()[1:]
	}
	if len(names) != 1 {
		return usageError{errors.New("want exactly one NAME: apikey new NAME [--can-read] [--write FILE]")}
	}
	name := names[0]
	if !team.ValidKeyName(name) {
		return usageError{fmt.Errorf("NAME %q: %s", name, team.KeyNameRule)}
	}

	key, err := team.NewAPIKey()
	if err != nil {
		return err
	}
	enabled := true
	entry := team.APIKey{SHA256: team.HashAPIKey(key), Enabled: &enabled, CanRead: *canRead}
	if *file != "" {
		// Written before the key is shown: a key whose entry could not be
		// stored would be useless.
		if err := addAPIKey(*file, name, entry, *replace, stdout); err != nil {
			return err
		}
	}

	fmt.Fprintf(stdout, "API key %q (shown once: it is not stored anywhere, only its SHA-256 is):\n\n  %s\n\n", name, key)
	fmt.Fprintf(stdout, "%s: {\"sha256\": %s, \"enabled\": true, \"can_read\": %t}\n",
		strconv.Quote(name), strconv.Quote(entry.SHA256), entry.CanRead)
	if *file != "" {
		fmt.Fprintf(stdout, "\nadded to api_keys in %s; push it with `oncall-pager config push %s`\n", *file, *file)
	} else {
		fmt.Fprintln(stdout, "\nadd this entry under \"api_keys\" in the config (or run again with --write FILE)")
	}
	return nil
}

// addAPIKey puts the entry into the config at file, keeping everything else
// as it was, and writes it only if the result validates.
func addAPIKey(file, name string, entry team.APIKey, replace bool, stdout io.Writer) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	doc, err := jsondoc.Parse(data)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	p := []string{"api_keys", name}
	if _, exists := doc.Get(p); exists && !replace {
		return fmt.Errorf("%s already has api_keys.%s; choose another name, or --replace to rotate it", file, name)
	}
	if err := doc.Set(p, entry); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	out, err := doc.Marshal()
	if err != nil {
		return err
	}
	var report bytes.Buffer
	if err := validate(out, file, &report); err != nil {
		_, _ = stdout.Write(report.Bytes())
		return fmt.Errorf("not written: %w", err)
	}
	return writeFileAtomic(file, out)
}

// writeFileAtomic replaces file so that a crash leaves the old or the new
// config, never half of one; it keeps the file's permissions (configs hold
// secrets).
func writeFileAtomic(file string, data []byte) error {
	mode := fs.FileMode(0o600)
	if st, err := os.Stat(file); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
