package cqltest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Protocol constants of the CQL native protocol, version 4.
const (
	protoVersion    = 4
	headerLen       = 9
	maxFrameBody    = 64 << 20 // a frame body larger than this is refused
	responseFlag    = 0x80
	flagTracing     = 0x02
	flagPayload     = 0x04
	flagWarning     = 0x08
	flagCompress    = 0x01
	opError         = 0x00
	opStartup       = 0x01
	opReady         = 0x02
	opAuthenticate  = 0x03
	opOptions       = 0x05
	opSupported     = 0x06
	opQuery         = 0x07
	opResult        = 0x08
	opPrepare       = 0x09
	opExecute       = 0x0A
	opRegister      = 0x0B
	opBatch         = 0x0D
	opAuthChallenge = 0x0E
	opAuthResponse  = 0x0F
	opAuthSuccess   = 0x10
)

// Query parameter flags (protocol v4, one byte).
const (
	qfValues            = 0x01
	qfSkipMetadata      = 0x02
	qfPageSize          = 0x04
	qfPagingState       = 0x08
	qfSerialConsistency = 0x10
	qfDefaultTimestamp  = 0x20
	qfNames             = 0x40
)

// Result kinds.
const (
	resultVoid         = 0x0001
	resultRows         = 0x0002
	resultSetKeyspace  = 0x0003
	resultPrepared     = 0x0004
	resultSchemaChange = 0x0005
)

// Rows metadata flags.
const (
	mfGlobalTableSpec = 0x0001
	mfHasMorePages    = 0x0002
	mfNoMetadata      = 0x0004
)

// errShortFrame reports a frame body that ends before one of its fields.
var errShortFrame = errors.New("cqltest: frame body too short")

// header is the fixed 9-byte header of a frame.
type header struct {
	version byte
	flags   byte
	stream  int16
	op      byte
	length  int32
}

// readFrame reads one frame from r. A frame whose length is negative or
// larger than maxFrameBody is a protocol *cqlError.
func readFrame(r io.Reader) (header, []byte, error) {
	var b [headerLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return header{}, nil, err
	}
	h := decodeHeader(b[:])
	if h.length < 0 || h.length > maxFrameBody {
		return h, nil, protoErr("invalid frame body length %d", h.length)
	}
	body := make([]byte, h.length)
	if _, err := io.ReadFull(r, body); err != nil {
		return h, nil, err
	}
	return h, body, nil
}

func decodeHeader(b []byte) header {
	return header{
		version: b[0],
		flags:   b[1],
		stream:  int16(binary.BigEndian.Uint16(b[2:4])),
		op:      b[4],
		length:  int32(binary.BigEndian.Uint32(b[5:9])),
	}
}

// encodeFrame returns a response frame for stream with the given opcode and
// body. version is the request's version (its low seven bits).
func encodeFrame(version byte, stream int16, op byte, body []byte) []byte {
	out := make([]byte, headerLen, headerLen+len(body))
	out[0] = responseFlag | (version & 0x7f)
	out[1] = 0
	binary.BigEndian.PutUint16(out[2:4], uint16(stream))
	out[4] = op
	binary.BigEndian.PutUint32(out[5:9], uint32(len(body)))
	return append(out, body...)
}

// reader decodes the protocol's notations from a frame body. The first
// error sticks: later reads return zero values, and err reports it.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: reading %s", errShortFrame, what)
	}
}

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail(what)
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) byte() byte {
	p := r.take(1, "byte")
	if p == nil {
		return 0
	}
	return p[0]
}

func (r *reader) short() uint16 {
	p := r.take(2, "short")
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint16(p)
}

func (r *reader) int() int32 {
	p := r.take(4, "int")
	if p == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(p))
}

func (r *reader) long() int64 {
	p := r.take(8, "long")
	if p == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(p))
}

func (r *reader) string() string {
	n := int(r.short())
	return string(r.take(n, "string"))
}

func (r *reader) longString() string {
	n := int(r.int())
	return string(r.take(n, "long string"))
}

func (r *reader) shortBytes() []byte {
	n := int(r.short())
	return r.take(n, "short bytes")
}

// value reads a [value]: nil for null (-1), unset true for "not set" (-2).
func (r *reader) value() (v []byte, unset bool) {
	n := r.int()
	switch {
	case r.err != nil:
		return nil, false
	case n == -1:
		return nil, false
	case n == -2:
		return nil, true
	case n < 0:
		r.err = protoErr("invalid value length %d", n)
		return nil, false
	}
	p := r.take(int(n), "value")
	if p == nil {
		return nil, false
	}
	return append(make([]byte, 0, len(p)), p...), false
}

// bytes reads [bytes], nil when its length is negative.
func (r *reader) bytes() []byte {
	n := r.int()
	if n < 0 || r.err != nil {
		return nil
	}
	return r.take(int(n), "bytes")
}

func (r *reader) stringMap() map[string]string {
	n := int(r.short())
	m := make(map[string]string, min(n, 64))
	for i := 0; i < n && r.err == nil; i++ {
		k := r.string()
		m[k] = r.string()
	}
	return m
}

func (r *reader) stringList() []string {
	n := int(r.short())
	var l []string
	for i := 0; i < n && r.err == nil; i++ {
		l = append(l, r.string())
	}
	return l
}

func (r *reader) bytesMap() {
	n := int(r.short())
	for i := 0; i < n && r.err == nil; i++ {
		r.string()
		r.bytes()
	}
}

// writer encodes the protocol's notations.
type writer struct{ b []byte }

func (w *writer) byte(v byte)    { w.b = append(w.b, v) }
func (w *writer) short(v uint16) { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *writer) int(v int32)    { w.b = binary.BigEndian.AppendUint32(w.b, uint32(v)) }

func (w *writer) string(s string) {
	w.short(uint16(len(s)))
	w.b = append(w.b, s...)
}

func (w *writer) shortBytes(p []byte) {
	w.short(uint16(len(p)))
	w.b = append(w.b, p...)
}

// bytes writes [bytes]; nil is written as null (-1).
func (w *writer) bytes(p []byte) {
	if p == nil {
		w.int(-1)
		return
	}
	w.int(int32(len(p)))
	w.b = append(w.b, p...)
}

func (w *writer) stringList(l []string) {
	w.short(uint16(len(l)))
	for _, s := range l {
		w.string(s)
	}
}

func (w *writer) stringMultiMap(m map[string][]string, keys []string) {
	w.short(uint16(len(keys)))
	for _, k := range keys {
		w.string(k)
		w.stringList(m[k])
	}
}
