package registry

import (
	"bufio"
	"fmt"
	"io"
)

func readNDJSON(br *bufio.Reader, fn func(*Feature) error) error {
	var (
		p     = newFeatureParser()
		feat  Feature
		long  []byte // a line longer than br's buffer, assembled here
		index int
	)
	for {
		line, err := br.ReadSlice('\n')
		tooLong := false
		if err == bufio.ErrBufferFull {
			long = append(long[:0], line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				if len(long)+len(line) > maxLineBytes {
					tooLong = true
				} else {
					long = append(long, line...)
				}
			}
			line = long
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("read ndjson: %w", err)
		}
		if tooLong {
			feat = Feature{Index: index, Err: &Problem{Index: index, Code: CodeLineTooLong,
				Message: fmt.Sprintf("line is longer than %d bytes", maxLineBytes)}}
			if ferr := fn(&feat); ferr != nil {
				return ferr
			}
			index++
		} else if rec := trimRecord(line); len(rec) > 0 {
			p.parse(rec, index, &feat)
			if ferr := fn(&feat); ferr != nil {
				return ferr
			}
			index++
		}
		if err == io.EOF {
			return nil
		}
	}
}

// trimRecord strips whitespace and RFC 8142 record separators around one NDJSON line.
func trimRecord(b []byte) []byte {
	for len(b) > 0 {
		c := b[0]
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != 0x1E {
			break
		}
		b = b[1:]
	}
	for len(b) > 0 {
		c := b[len(b)-1]
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			break
		}
		b = b[:len(b)-1]
	}
	return b
}
