// Package testskip records the test layers a run left out (Twilio spec
// validation without the spec, a browser test without Chromium, ...), so the
// test command ends by naming every one and why, instead of passing silently.
package testskip
