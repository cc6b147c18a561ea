package channel

import "context"

// Sender delivers a message through one channel.
type Sender interface {
	Send(ctx context.Context, m Message) (Receipt, error)
}

// Message is channel-neutral; each sender renders it for its medium and trims
// it to what the medium accepts.
type Message struct {
	// NotificationID identifies the notification across retries and channels.
	NotificationID string
	Subject        string
	Body           string
	// Attachments are only delivered by channels that can carry files
	// (email); the others ignore them.
	Attachments []Attachment
}

// Attachment is a file carried with a message.
type Attachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// Receipt describes an accepted delivery.
type Receipt struct {
	// ID is the provider's identifier for the delivery, if it returns one.
	ID string
	// Detail is a short human-readable account of what the peer answered.
	Detail string
}
