// Package team is "who and what is configured": the team's operational
// config (who may control the pager, who is on call, the pager's settings,
// the alert API's sections), its validation, and the Manager that reloads
// it and writes it back. It is one JSON object in the store, edited by hand
// by ops and written back by the pager (TAKE), so the package validates
// strictly, reporting every problem with its path, and writes through
// app/jsondoc so nothing it does not understand is lost.
package team
