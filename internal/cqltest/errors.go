package cqltest

import "fmt"

// errCode is an error code of the native protocol (section 9 of the v4
// specification).
type errCode int32

const (
	codeServer         errCode = 0x0000
	codeProtocol       errCode = 0x000A
	codeBadCredentials errCode = 0x0100
	codeUnavailable    errCode = 0x1000
	codeOverloaded     errCode = 0x1001
	codeWriteTimeout   errCode = 0x1100
	codeReadTimeout    errCode = 0x1200
	codeSyntax         errCode = 0x2000
	codeUnauthorized   errCode = 0x2100
	codeInvalid        errCode = 0x2200
	codeConfig         errCode = 0x2300
	codeAlreadyExists  errCode = 0x2400
	codeUnprepared     errCode = 0x2500
)

// cqlError is the error a request is answered with: a protocol error code,
// its message and the code's extra fields.
type cqlError struct {
	code errCode
	msg  string

	consistency uint16 // unavailable, write and read timeouts
	required    int32  // unavailable
	alive       int32  // unavailable
	received    int32  // timeouts
	blockFor    int32  // timeouts
	writeType   string // write timeout
	dataPresent bool   // read timeout
	keyspace    string // already exists
	table       string // already exists
	id          []byte // unprepared
}

func (e *cqlError) Error() string {
	return fmt.Sprintf("cqltest: error 0x%04X: %s", int32(e.code), e.msg)
}

// encode returns the body of the ERROR message for e.
func (e *cqlError) encode() []byte {
	var w writer
	w.int(int32(e.code))
	w.string(e.msg)
	switch e.code {
	case codeUnavailable:
		w.short(e.consistency)
		w.int(e.required)
		w.int(e.alive)
	case codeWriteTimeout:
		w.short(e.consistency)
		w.int(e.received)
		w.int(e.blockFor)
		w.string(e.writeType)
	case codeReadTimeout:
		w.short(e.consistency)
		w.int(e.received)
		w.int(e.blockFor)
		if e.dataPresent {
			w.byte(1)
		} else {
			w.byte(0)
		}
	case codeAlreadyExists:
		w.string(e.keyspace)
		w.string(e.table)
	case codeUnprepared:
		w.shortBytes(e.id)
	}
	return w.b
}

func protoErr(format string, args ...any) *cqlError {
	return &cqlError{code: codeProtocol, msg: fmt.Sprintf(format, args...)}
}

func syntaxErr(format string, args ...any) *cqlError {
	return &cqlError{code: codeSyntax, msg: fmt.Sprintf(format, args...)}
}

func invalidErr(format string, args ...any) *cqlError {
	return &cqlError{code: codeInvalid, msg: fmt.Sprintf(format, args...)}
}
