package results

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/text/encoding/charmap"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/input"
)

// hl7Import is the LIS's HL7 v2 door (R3, issue 12.12): POST /results/api/hl7 with one
// ORU^R01 message in its usual encoding (ER7: segments of "|"-separated fields), over HTTP
// (no MLLP). Its patient, order and results become an Incoming, which takes the import
// API's path (receive). The answer is an HL7 ACK: MSA AA when the report is stored (or was
// already), AE naming each field at fault in an ERR segment, AR for a message the module
// does not take (not ORU^R01, unreadable, a PDF sent as a link).
func (m *Module) hl7Import(c *kit.Ctx) error {
	ack := &hl7Ack{}
	if c.Req.ClientID == "" {
		return m.hl7Answer(c, http.StatusUnauthorized, ack.reject(c, "", hl7ErrInternal, "error.api.key_missing"))
	}
	if bodyTooLarge(c) {
		return m.hl7Answer(c, http.StatusRequestEntityTooLarge, ack.reject(c, "", hl7ErrInternal, "error.too_large.text"))
	}
	msg, err := parseER7(c.Req.Body)
	if err != nil {
		return m.hl7Answer(c, http.StatusBadRequest, ack.reject(c, "", hl7ErrDataType, "results.lis.hl7_unreadable"))
	}
	ack.msg = msg
	in, locs, pre, problem := readORU(msg, tenantLoc(c.Tenant()))
	if problem != nil {
		return m.hl7Answer(c, http.StatusBadRequest, ack.reject(c, problem.loc, problem.code, problem.text))
	}
	errs, res, err := m.receive(c, in, pre, "hl7:"+c.Req.ClientID)
	if err != nil {
		// Logged as every 500; the LIS reads an ACK, and sends the message again.
		c.LogFailure(err)
		ack.code, ack.text = "AE", c.T("error.generic.text")
		ack.errs = append(ack.errs, hl7Err{code: hl7ErrInternal, text: ack.text})
		return m.hl7Answer(c, http.StatusInternalServerError, ack)
	}
	if len(errs) > 0 {
		ack.code = "AE"
		for _, f := range sortedFields(errs) {
			code := hl7ErrDataType
			if errs[f] == "required" {
				code = hl7ErrRequired
			}
			ack.errs = append(ack.errs, hl7Err{loc: locs.of(f), code: code, text: c.T(errKey(errs[f]))})
		}
		ack.text = c.T("error.invalid.text")
		return m.hl7Answer(c, http.StatusUnprocessableEntity, ack)
	}
	// Created, amended (a new version of a known report) or unchanged (R3, issue 12.2).
	status, what := http.StatusOK, "results.lis."+res.What()
	if res.Created {
		status = http.StatusCreated
	}
	ack.code, ack.text = "AA", c.T(what)
	return m.hl7Answer(c, status, ack)
}

// hl7Answer writes the ACK.
func (m *Module) hl7Answer(c *kit.Ctx, status int, ack *hl7Ack) error {
	c.W.Header().Set("Content-Type", "x-application/hl7-v2+er7; charset=utf-8")
	c.W.Header().Set("Cache-Control", "no-store")
	c.W.WriteHeader(status)
	_, err := c.W.Write(ack.encode(m.now()))
	return err
}

// HL7 v2 error codes (table 0357) the module answers.
const (
	hl7ErrSequence    = "100" // segment sequence error
	hl7ErrRequired    = "101" // required field missing
	hl7ErrDataType    = "102" // data type error
	hl7ErrMessageType = "200" // unsupported message type
	hl7ErrEvent       = "201" // unsupported event code
	hl7ErrVersion     = "203" // unsupported version id
	hl7ErrInternal    = "207" // application internal error
)

var hl7ErrNames = map[string]string{hl7ErrSequence: "Segment sequence error", hl7ErrRequired: "Required field missing",
	hl7ErrDataType: "Data type error", hl7ErrMessageType: "Unsupported message type",
	hl7ErrEvent: "Unsupported event code", hl7ErrVersion: "Unsupported version id", hl7ErrInternal: "Application internal error"}

// hl7Err is one ERR segment: where (ERR-2, "PID^1^7"), the HL7 code (ERR-3) and the
// sentence for the lab's staff in the tenant's language (ERR-8).
type hl7Err struct{ loc, code, text string }

// hl7Ack is the acknowledgment of a message.
type hl7Ack struct {
	msg  *er7 // the message acknowledged, nil when it could not be read
	code string
	text string
	errs []hl7Err
}

func (a *hl7Ack) reject(c *kit.Ctx, loc, code, textID string) *hl7Ack {
	a.code, a.text = "AR", c.T(textID)
	a.errs = append(a.errs, hl7Err{loc: loc, code: code, text: a.text})
	return a
}

// encode writes the ACK in ER7, addressed back to the sender, in the message's version.
func (a *hl7Ack) encode(now time.Time) []byte {
	version, processing, control := "2.5", "P", ""
	sendApp, sendFac, recvApp, recvFac := "", "", "", ""
	if a.msg != nil {
		if msh := a.msg.first("MSH"); msh != nil {
			sendApp, sendFac, recvApp, recvFac = msh.raw(5), msh.raw(6), msh.raw(3), msh.raw(4)
			control = a.msg.text(msh.field(10))
			if v := a.msg.text(msh.comp(12, 1)); v != "" {
				version = v
			}
			if p := a.msg.text(msh.comp(11, 1)); p != "" {
				processing = p
			}
		}
	}
	if m := a.msg; m != nil && string([]byte{m.sep, m.comp, m.rep, m.esc, m.sub}) != `|^~\&` {
		// The fields taken from the message are in its separators: answer in ours.
		sendApp, sendFac, recvApp, recvFac = a.msg.text(sendApp), a.msg.text(sendFac), a.msg.text(recvApp), a.msg.text(recvFac)
		sendApp, sendFac, recvApp, recvFac = hl7Escape(sendApp), hl7Escape(sendFac), hl7Escape(recvApp), hl7Escape(recvFac)
	}
	ts := now.UTC().Format("20060102150405") + "+0000"
	var b bytes.Buffer
	fmt.Fprintf(&b, "MSH|^~\\&|%s|%s|%s|%s|%s||ACK^R01^ACK|%s|%s|%s\r", sendApp, sendFac, recvApp, recvFac, ts,
		strings.ReplaceAll(uuid.NewString(), "-", "")[:20], hl7Escape(processing), hl7Escape(version))
	fmt.Fprintf(&b, "MSA|%s|%s|%s\r", a.code, hl7Escape(control), hl7Escape(a.text))
	for _, e := range a.errs {
		fmt.Fprintf(&b, "ERR||%s|%s^%s^HL70357|E||||%s\r", e.loc, e.code, hl7ErrNames[e.code], hl7Escape(e.text))
	}
	return b.Bytes()
}

// hl7Escape escapes the separators in a text written into a field.
func hl7Escape(s string) string {
	return strings.NewReplacer(`\`, `\E\`, `|`, `\F\`, `^`, `\S\`, `&`, `\T\`, `~`, `\R\`).Replace(s)
}

// er7 is an HL7 v2 message in its ER7 encoding: its segments, each its fields as sent
// (escapes kept), with the separators the message declares in MSH.
type er7 struct {
	sep, comp, rep, esc, sub byte
	segs                     []er7Seg
}

type er7Seg struct {
	name   string
	fields []string // fields[n] is field n (MSH: fields[1] is MSH-1, the field separator)
	m      *er7
}

// errER7 is a body that is not an HL7 v2 message.
var errER7 = fmt.Errorf("not an HL7 v2 message")

// parseER7 reads a message: an optional MLLP frame, segments ended by CR (LF and CRLF are
// taken too), MSH first with its separators. The text is UTF-8, or ISO 8859-1 where MSH-18
// says so; each segment must be one line of text (input.Check).
func parseER7(body []byte) (*er7, error) {
	body = bytes.TrimLeft(body, "\x0b")
	body = bytes.TrimRight(body, "\x1c\r\n")
	if len(body) < 8 || string(body[:3]) != "MSH" {
		return nil, errER7
	}
	m := &er7{sep: body[3], comp: body[4], rep: body[5], esc: body[6], sub: body[7]}
	seps := []byte{m.sep, m.comp, m.rep, m.esc, m.sub}
	for i, c := range seps {
		if c < 0x21 || c > 0x7e || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || bytes.IndexByte(seps[i+1:], c) >= 0 {
			return nil, errER7
		}
	}
	lines := bytes.FieldsFunc(body, func(r rune) bool { return r == '\r' || r == '\n' })
	// The character set, from the header (ASCII whatever the set).
	if msh := strings.Split(string(lines[0]), string(m.sep)); len(msh) > 17 {
		switch cs := strings.ToUpper(strings.TrimSpace(strings.Split(msh[17], string(m.rep))[0])); cs {
		case "", "ASCII", "UNICODE UTF-8", "UTF-8":
		case "8859/1":
			for i, l := range lines {
				out, err := charmap.ISO8859_1.NewDecoder().Bytes(l)
				if err != nil {
					return nil, errER7
				}
				lines[i] = out
			}
		default:
			return nil, errER7
		}
	}
	for _, l := range lines {
		s := string(l)
		if input.Check(s, false) != input.OK || len(s) < 3 {
			return nil, errER7
		}
		seg := er7Seg{name: s[:3], m: m}
		if len(s) > 3 && s[3] != m.sep {
			return nil, errER7
		}
		seg.fields = strings.Split(s, string(m.sep))
		if seg.name == "MSH" {
			// MSH-1 is the separator itself: number the fields as the standard does.
			seg.fields = append([]string{"MSH", string(m.sep)}, seg.fields[1:]...)
		}
		m.segs = append(m.segs, seg)
	}
	return m, nil
}

func (m *er7) first(name string) *er7Seg {
	for i := range m.segs {
		if m.segs[i].name == name {
			return &m.segs[i]
		}
	}
	return nil
}

// raw is field n as sent; field is its first repetition.
func (s *er7Seg) raw(n int) string {
	if s == nil || n >= len(s.fields) {
		return ""
	}
	return s.fields[n]
}

func (s *er7Seg) field(n int) string { return s.reps(n)[0] }

// reps are the repetitions of field n.
func (s *er7Seg) reps(n int) []string {
	if s.name == "MSH" && n <= 2 {
		return []string{s.raw(n)}
	}
	return strings.Split(s.raw(n), string(s.m.rep))
}

// comp is component i (from 1) of the first repetition of field n, as sent.
func (s *er7Seg) comp(n, i int) string { return component(s.field(n), s.m.comp, i) }

func component(v string, sep byte, i int) string {
	parts := strings.Split(v, string(sep))
	if i > len(parts) {
		return ""
	}
	return parts[i-1]
}

// text decodes a value for a person: its first subcomponent, its escapes resolved (a line
// break becomes a space; a highlight or a hexadecimal escape is left out), trimmed. The
// result has no separator of the message's that it did not escape, and no control
// character.
func (m *er7) text(v string) string {
	v = component(v, m.sub, 1)
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != m.esc {
			b.WriteByte(v[i])
			continue
		}
		j := strings.IndexByte(v[i+1:], m.esc)
		if j < 0 {
			break
		}
		switch seq := v[i+1 : i+1+j]; seq {
		case "F":
			b.WriteByte(m.sep)
		case "S":
			b.WriteByte(m.comp)
		case "T":
			b.WriteByte(m.sub)
		case "R":
			b.WriteByte(m.rep)
		case "E":
			b.WriteByte(m.esc)
		case ".br", ".sp":
			b.WriteByte(' ')
		}
		i += j + 1
	}
	return strings.TrimSpace(b.String())
}

// hl7Problem is a message the module does not take (AR).
type hl7Problem struct{ loc, code, text string }

var (
	hl7RangeRe = regexp.MustCompile(`^\s*(-?[0-9]+(?:[.,][0-9]+)?)\s*-\s*(-?[0-9]+(?:[.,][0-9]+)?)\s*$`)
	hl7DateRe  = regexp.MustCompile(`^([0-9]{4})([0-9]{2})([0-9]{2})(?:([0-9]{2})([0-9]{2})?([0-9]{2})?(?:\.[0-9]{1,4})?)?([+-][0-9]{4})?$`)
)

// readORU reads an ORU^R01 into an Incoming: one patient (PID), the report of its orders
// (ORC/OBR: the filler order number is the report id, OBR-7 the collection, OBR-16 the
// prescriber, OBR-25 the status), its results (OBX: NM, SN, ST, TX, FT, CE/CWE values with
// their units, ranges and abnormal flags) and its PDF (an OBX of type ED, base64).
func readORU(m *er7, loc *time.Location) (in *Incoming, locs sources, pre fieldErrs, problem *hl7Problem) {
	msh := m.first("MSH")
	if typ, ev := m.text(msh.comp(9, 1)), m.text(msh.comp(9, 2)); typ != "ORU" {
		return nil, nil, nil, &hl7Problem{"MSH^1^9^1^1", hl7ErrMessageType, "results.lis.hl7_not_oru"}
	} else if ev != "R01" {
		return nil, nil, nil, &hl7Problem{"MSH^1^9^1^2", hl7ErrEvent, "results.lis.hl7_not_oru"}
	}
	if v := m.text(msh.comp(12, 1)); !strings.HasPrefix(v, "2.") || len(v) < 3 || v[2] < '3' || v[2] > '9' {
		return nil, nil, nil, &hl7Problem{"MSH^1^12", hl7ErrVersion, "results.lis.hl7_version"}
	}
	var pid, firstOBR *er7Seg
	var obrs, obxs int
	in, pre = &Incoming{}, fieldErrs{}
	locs = sources{"report_id": "OBR^1^3", "status": "OBR^1^25", "collected_at": "OBR^1^7", "lab": "OBX^1^23",
		"patient.lab_patient_id": "PID^1^3", "patient.last_name": "PID^1^5^1^1", "patient.first_name": "PID^1^5^1^2",
		"patient.birth_name": "PID^1^5", "patient.birth_date": "PID^1^7", "prescriber.register_number": "OBR^1^16^1^1",
		"prescriber.name": "OBR^1^16", "pdf": "OBX", "values": "OBX"}
	partial := false
	for i := range m.segs {
		s := &m.segs[i]
		switch s.name {
		case "PID":
			if pid != nil {
				return nil, nil, nil, &hl7Problem{"PID^2", hl7ErrSequence, "results.lis.hl7_one_patient"}
			}
			pid = s
		case "OBR":
			if pid == nil {
				return nil, nil, nil, &hl7Problem{"OBR^1", hl7ErrSequence, "results.lis.hl7_unreadable"}
			}
			obrs++
			if firstOBR == nil {
				firstOBR = s
			}
			// OBR-25: F final, C corrected → final; P preliminary, A some results, R not
			// yet verified → partial; anything else is no report to publish.
			switch st := m.text(s.field(25)); st {
			case "F", "C":
			case "P", "A", "R":
				partial = true
			default:
				in.Status = "OBR-25 " + st // no status of the module: the check refuses it
			}
		case "OBX":
			if firstOBR == nil {
				return nil, nil, nil, &hl7Problem{"OBX^1", hl7ErrSequence, "results.lis.hl7_unreadable"}
			}
			obxs++
			loc := "OBX^" + strconv.Itoa(obxs)
			switch typ := m.text(s.field(2)); typ {
			case "ED":
				// ED: source^type^subtype^encoding^data; the report's PDF, in base64.
				v := s.field(5)
				if !strings.EqualFold(m.text(component(v, m.comp, 3)), "pdf") {
					continue
				}
				locs["pdf"] = loc + "^5"
				if !strings.EqualFold(m.text(component(v, m.comp, 4)), "base64") {
					pre.add("pdf", "invalid_base64")
					continue
				}
				data, err := base64.StdEncoding.DecodeString(component(v, m.comp, 5))
				if err != nil {
					pre.add("pdf", "invalid_base64")
					continue
				}
				if in.PDF == nil {
					in.PDF = data
				}
			case "RP":
				// A reference to a document elsewhere: the module reaches no address a
				// sender names.
				return nil, nil, nil, &hl7Problem{loc + "^5", hl7ErrDataType, "results.err.link_not_accepted"}
			default:
				if in.Lab == "" {
					in.Lab = m.text(s.comp(23, 1))
				}
				v, ok := hl7Value(m, s, typ)
				if !ok {
					continue
				}
				k := fmt.Sprintf("values.%d.", len(in.Values))
				locs[k+"code"], locs[k+"label"], locs[k+"value"] = loc+"^3", loc+"^3", loc+"^5"
				locs[k+"unit"], locs[k+"range"], locs[k+"ref_text"], locs[k+"flag"] = loc+"^6", loc+"^7", loc+"^7", loc+"^8"
				in.Values = append(in.Values, v)
			}
		}
	}
	if pid == nil || firstOBR == nil {
		return nil, nil, nil, &hl7Problem{"PID", hl7ErrSequence, "results.lis.hl7_unreadable"}
	}
	if in.Status == "" {
		in.Status = "final"
		if partial {
			in.Status = "partial"
		}
	}

	// The patient: the lab's record number (the identifier of type MR, else the first), the
	// legal name, the maiden or birth name, the birth date.
	for _, cx := range pid.reps(3) {
		id, typ := m.text(component(cx, m.comp, 1)), m.text(component(cx, m.comp, 5))
		if id != "" && (in.Patient.LabPatientID == "" || typ == "MR") {
			in.Patient.LabPatientID = id
			if typ == "MR" {
				break
			}
		}
	}
	for i, xpn := range pid.reps(5) {
		family, given, typ := m.text(component(xpn, m.comp, 1)), m.text(component(xpn, m.comp, 2)), m.text(component(xpn, m.comp, 7))
		switch {
		case typ == "M" || typ == "B":
			in.Patient.BirthName = family
		case in.Patient.LastName == "" || typ == "L":
			in.Patient.LastName, in.Patient.FirstName = family, given
			locs["patient.last_name"], locs["patient.first_name"] = fmt.Sprintf("PID^1^5^%d^1", i+1), fmt.Sprintf("PID^1^5^%d^2", i+1)
		}
	}
	in.Patient.BirthDate = hl7Day(m.text(pid.comp(7, 1)))

	// The report: the filler order number (OBR-3, else ORC-3, else the placer's OBR-2).
	in.ReportID = m.text(firstOBR.comp(3, 1))
	if orc := m.first("ORC"); in.ReportID == "" && orc != nil {
		in.ReportID, locs["report_id"] = m.text(orc.comp(3, 1)), "ORC^1^3"
	}
	if in.ReportID == "" {
		in.ReportID, locs["report_id"] = m.text(firstOBR.comp(2, 1)), "OBR^1^2"
	}
	in.CollectedAt = hl7Time(m.text(firstOBR.comp(7, 1)), loc)
	if in.Lab == "" {
		in.Lab = m.text(msh.comp(4, 1))
	}
	// The prescriber (XCN: id^family^given): his register number only when it has the shape
	// of one (RPPS in France); an ordering system's own code is not one.
	if n := m.text(firstOBR.comp(16, 1)); proNumberRe.MatchString(n) {
		in.Prescriber.RegisterNumber = n
	}
	in.Prescriber.Name = strings.TrimSpace(m.text(firstOBR.comp(16, 3)) + " " + m.text(firstOBR.comp(16, 2)))
	return in, locs, pre, nil
}

// hl7Value reads one OBX's result. A result with no value (not obtained, deleted) is none.
func hl7Value(m *er7, s *er7Seg, typ string) (IncomingValue, bool) {
	if st := m.text(s.field(11)); st == "D" || st == "W" || st == "X" {
		return IncomingValue{}, false
	}
	v := IncomingValue{Code: m.text(s.comp(3, 1)), Label: m.text(s.comp(3, 2))}
	if v.Label == "" {
		v.Label = m.text(s.comp(3, 5))
	}
	raw := s.field(5)
	switch typ {
	case "SN":
		// Structured numeric: comparator^number^separator^number ("<^0.1", "^1^:^80").
		v.Value = m.text(component(raw, m.comp, 1)) + m.text(component(raw, m.comp, 2)) +
			m.text(component(raw, m.comp, 3)) + m.text(component(raw, m.comp, 4))
	case "CE", "CWE", "CNE":
		for _, i := range []int{2, 5, 1} {
			if v.Value = m.text(component(raw, m.comp, i)); v.Value != "" {
				break
			}
		}
	default:
		v.Value = m.text(component(raw, m.comp, 1))
	}
	if v.Value == "" {
		return v, false
	}
	if v.Unit = m.text(s.comp(6, 1)); v.Unit == "" {
		v.Unit = m.text(s.comp(6, 2))
	}
	ref := m.text(s.field(7))
	if r := hl7RangeRe.FindStringSubmatch(ref); r != nil {
		lo, hi := numeric(r[1]), numeric(r[2])
		v.Low, v.High = &lo.Float64, &hi.Float64
	} else {
		v.RefText = ref
	}
	for _, f := range s.reps(8) {
		if flag, ok := flagOf(m.text(f)); ok {
			v.Flag = flag
			break
		}
	}
	return v, true
}

// hl7Day reads the date of an HL7 timestamp as "2006-01-02"; anything shorter than a day
// stays as sent, for the check to refuse.
func hl7Day(ts string) string {
	if r := hl7DateRe.FindStringSubmatch(ts); r != nil {
		return r[1] + "-" + r[2] + "-" + r[3]
	}
	return ts
}

// hl7Time reads an HL7 timestamp (YYYYMMDD[HHMM[SS[.S]]][+ZZZZ]) as RFC 3339, or as a
// day when it has no time; a time without a zone is the tenant's (loc), as a day is.
func hl7Time(ts string, loc *time.Location) string {
	r := hl7DateRe.FindStringSubmatch(ts)
	if r == nil {
		return ts
	}
	if r[4] == "" {
		return r[1] + "-" + r[2] + "-" + r[3]
	}
	layout, value := "20060102150405", r[1]+r[2]+r[3]+r[4]+or(r[5], "00")+or(r[6], "00")
	if r[7] != "" {
		layout, value = layout+"-0700", value+r[7]
	}
	t, err := time.ParseInLocation(layout, value, loc)
	if err != nil {
		return ts
	}
	return t.Format(time.RFC3339)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
