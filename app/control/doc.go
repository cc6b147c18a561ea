// Package control answers team members texting the control number
// (current_config.from_phone): WHO, TAKE with its C/X confirmation, HALP.
package control
