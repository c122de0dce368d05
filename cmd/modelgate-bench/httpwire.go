package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// responseHead is the framing of an HTTP/1.1 response.
type responseHead struct {
	status int

	// contentLength is -1 when the response has no Content-Length.
	contentLength int64
	chunked       bool
	close         bool
}

// readResponseHead reads a response's status line and headers, and
// keeps the fields that frame the body. It accepts only HTTP/1.1,
// because a keep-alive load needs it.
func readResponseHead(br *bufio.Reader) (responseHead, error) {
	h := responseHead{contentLength: -1}
	line, err := readLine(br)
	if err != nil {
		return h, err
	}
	// "HTTP/1.1 302 Found"
	rest, ok := bytes.CutPrefix(line, []byte("HTTP/1.1 "))
	if !ok || len(rest) < 3 {
		return h, fmt.Errorf("status line %q is not HTTP/1.1",
			truncateText(string(line), 64))
	}
	h.status, err = parseDigits(rest[:3])
	if err != nil {
		return h, fmt.Errorf("status line %q: %w",
			truncateText(string(line), 64), err)
	}

	for {
		line, err := readLine(br)
		if err != nil {
			return h, err
		}
		if len(line) == 0 {
			return h, nil
		}
		if err := h.addHeader(line); err != nil {
			return h, err
		}
	}
}

// addHeader records a header line if it frames the body.
func (h *responseHead) addHeader(line []byte) error {
	name, value, ok := bytes.Cut(line, []byte(":"))
	if !ok {
		return fmt.Errorf("header line %q has no colon",
			truncateText(string(line), 64))
	}
	value = bytes.TrimSpace(value)
	switch {
	case bytes.EqualFold(name, []byte("Content-Length")):
		n, err := parseDigits(value)
		if err != nil {
			return fmt.Errorf("Content-Length %q: %w", value, err)
		}
		h.contentLength = int64(n)
	case bytes.EqualFold(name, []byte("Transfer-Encoding")):
		h.chunked = bytes.EqualFold(value, []byte("chunked"))
	case bytes.EqualFold(name, []byte("Connection")):
		h.close = bytes.EqualFold(value, []byte("close"))
	}
	return nil
}

// skipBody reads and discards the body that h frames. A body framed by
// neither Content-Length nor chunked encoding runs to the end of the
// connection, so the connection is marked for closing.
func skipBody(br *bufio.Reader, h responseHead) error {
	switch {
	case h.chunked:
		return skipChunks(br)
	case h.contentLength >= 0:
		_, err := br.Discard(int(h.contentLength))
		return err
	case h.status == 204 || h.status == 304 || h.status < 200:
		return nil
	}
	_, err := io.Copy(io.Discard, br)
	if err == nil {
		err = errors.New("response without length; connection closed")
	}
	return err
}

// skipChunks discards a chunked body and its trailer.
func skipChunks(br *bufio.Reader) error {
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		sizeText, _, _ := bytes.Cut(line, []byte(";"))
		size, err := strconv.ParseInt(string(bytes.TrimSpace(sizeText)),
			16, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("chunk size %q is not hexadecimal",
				truncateText(string(line), 64))
		}
		if size == 0 {
			break
		}
		if _, err := br.Discard(int(size) + 2); err != nil {
			return err
		}
	}
	for {
		line, err := readLine(br)
		if err != nil || len(line) == 0 {
			return err
		}
	}
}

// readLine returns the next line without its CRLF or LF. The line is
// valid until the next read from br.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errors.New("response line longer than the " +
				"read buffer")
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// parseDigits parses a non-negative decimal number of at most 18
// digits.
func parseDigits(b []byte) (int, error) {
	if len(b) == 0 || len(b) > 18 {
		return 0, fmt.Errorf("%q is not a number", b)
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a number", b)
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}
