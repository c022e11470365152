package registry

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Encoding is the character encoding of a census text file (CSV, TSV, or a units or rules
// CSV). JSON and GeoJSON are always UTF-8 (RFC 8259).
type Encoding string

const (
	EncodingAuto    Encoding = ""        // detect: UTF-8 (with or without BOM) when it is valid UTF-8, else GB18030
	EncodingUTF8    Encoding = "utf-8"   // UTF-8
	EncodingGBK     Encoding = "gbk"     // GBK (CP936), as Excel on a Chinese Windows saves "CSV"; read as GB18030, its superset
	EncodingGB18030 Encoding = "gb18030" // GB 18030
	EncodingUTF16   Encoding = "utf-16"  // UTF-16 with a byte order mark, as Excel saves "Unicode text" (tab-separated); little-endian without one
)

// ParseEncoding accepts "" (auto), "auto", "utf-8"/"utf8", "gbk"/"cp936"/"gb2312",
// "gb18030" and "utf-16"/"utf16"/"unicode", in any case. Other names are Invalid invalid_input.
func ParseEncoding(s string) (Encoding, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return EncodingAuto, nil
	case "utf-8", "utf8":
		return EncodingUTF8, nil
	case "gbk", "cp936", "gb2312":
		return EncodingGBK, nil
	case "gb18030":
		return EncodingGB18030, nil
	case "utf-16", "utf16", "unicode", "utf-16le":
		return EncodingUTF16, nil
	}
	return "", Errorf(Invalid, CodeInvalidInput, "encoding must be utf-8, gbk, gb18030 or utf-16, not %q", s)
}

// encodingSample is how much of a text file DecodeText looks at to detect its encoding.
const encodingSample = 1 << 20

// DecodeText returns r's text as UTF-8 and the encoding it was read in. With EncodingAuto it
// looks at the first MiB: a UTF-16 byte order mark means UTF-16 (Excel's "Unicode text");
// else text whose first non-ASCII bytes are valid UTF-8 (or that has none) is UTF-8, anything
// else is read as GB18030 (a superset of GBK and GB2312). UTF-8 passes
// through unchanged, a BOM included, so a file valid as UTF-8 reads exactly as before; bytes
// that are not UTF-8 later in it stay for the readers to report (invalid_encoding).
func DecodeText(r io.Reader, enc Encoding) (io.Reader, Encoding) {
	switch enc {
	case EncodingUTF8:
		return r, EncodingUTF8
	case EncodingGBK, EncodingGB18030:
		return transform.NewReader(r, simplifiedchinese.GB18030.NewDecoder()), enc
	case EncodingUTF16:
		return transform.NewReader(r, unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewDecoder()), enc
	}
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < encodingSample {
		br = bufio.NewReaderSize(r, encodingSample)
	}
	head, err := br.Peek(encodingSample)
	if bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}) {
		return transform.NewReader(br, unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewDecoder()), EncodingUTF16
	}
	if looksUTF8(head, err == nil) {
		return br, EncodingUTF8
	}
	return transform.NewReader(br, simplifiedchinese.GB18030.NewDecoder()), EncodingGB18030
}

// looksUTF8 reports whether the first non-ASCII bytes of b (a sample; more follows when more
// is set, so it may end inside a character) are valid UTF-8. ASCII text is UTF-8.
func looksUTF8(b []byte, more bool) bool {
	b = bytes.TrimPrefix(b, utf8BOM)
	i := bytes.IndexFunc(b, func(r rune) bool { return r >= utf8.RuneSelf })
	if i < 0 {
		return true
	}
	b = b[i:]
	if len(b) > 4096 {
		b, more = b[:4096], true
	}
	if more {
		// Drop a character cut off at the end of the sample.
		for k := 0; k < utf8.UTFMax-1 && len(b) > 0; k++ {
			last := len(b) - 1
			for last > 0 && !utf8.RuneStart(b[last]) {
				last--
			}
			if utf8.FullRune(b[last:]) {
				break
			}
			b = b[:last]
		}
	}
	return utf8.Valid(b)
}

// looksJSON reports whether a text starts as JSON or GeoJSONSeq does (after a BOM and blanks).
func looksJSON(head []byte) bool {
	h := bytes.TrimLeft(bytes.TrimPrefix(head, utf8BOM), " \t\r\n")
	return len(h) > 0 && (h[0] == '{' || h[0] == '[' || h[0] == 0x1E)
}
