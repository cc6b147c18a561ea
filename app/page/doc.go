// Package page is alert pages: the one page text (an alert's, and the
// voicemail page the pager line sends), page calls and the keys they offer
// (1 acknowledge, 2 close, 3 repeat), throttling digests, the "taken by"
// notices, who a policy target is (Members), and Twilio's callbacks of
// pages (/public/alertstatus, /public/pagekey). A page returns what Twilio
// refused at once; the alerts service that asked for it records that.
package page
