package pdfdoc

import (
	"encoding/binary"
	"math"
	"sync"
)

// sRGBProfile is an ICC version 2 display profile of sRGB (IEC 61966-2.1): the D50 white
// point, the sRGB primaries adapted to D50 (Bradford), and the sRGB transfer curve sampled
// at 1024 points. PDF/A's output intent carries it, so that the document's DeviceRGB
// colours have a meaning.
var sRGBProfile = sync.OnceValue(func() []byte {
	s15 := func(v float64) uint32 { return uint32(int32(math.Round(v * 65536))) }
	xyz := func(x, y, z float64) []byte {
		b := make([]byte, 20)
		copy(b, "XYZ ")
		binary.BigEndian.PutUint32(b[8:], s15(x))
		binary.BigEndian.PutUint32(b[12:], s15(y))
		binary.BigEndian.PutUint32(b[16:], s15(z))
		return b
	}
	text := func(s string) []byte {
		b := make([]byte, 8, 8+len(s)+1)
		copy(b, "text")
		return append(append(b, s...), 0)
	}
	desc := func(s string) []byte {
		b := make([]byte, 12)
		copy(b, "desc")
		binary.BigEndian.PutUint32(b[8:], uint32(len(s)+1))
		b = append(append(b, s...), 0)
		// no Unicode (language 0, count 0), no ScriptCode (code 0, count 0, 67 bytes)
		return append(b, make([]byte, 4+4+2+1+67)...)
	}
	const n = 1024
	curve := make([]byte, 12+2*n)
	copy(curve, "curv")
	binary.BigEndian.PutUint32(curve[8:], n)
	for i := 0; i < n; i++ {
		v := float64(i) / (n - 1)
		if v <= 0.04045 {
			v /= 12.92
		} else {
			v = math.Pow((v+0.055)/1.055, 2.4)
		}
		binary.BigEndian.PutUint16(curve[12+2*i:], uint16(math.Round(v*65535)))
	}
	type tag struct {
		sig  string
		data []byte
	}
	tags := []tag{
		{"desc", desc("sRGB IEC61966-2.1")},
		{"cprt", text("No copyright, use freely")},
		{"wtpt", xyz(0.9642, 1.0, 0.8249)},
		{"rXYZ", xyz(0.4361, 0.2225, 0.0139)},
		{"gXYZ", xyz(0.3851, 0.7169, 0.0971)},
		{"bXYZ", xyz(0.1431, 0.0606, 0.7141)},
		{"rTRC", curve}, {"gTRC", curve}, {"bTRC", curve},
	}
	head := 128 + 4 + 12*len(tags)
	body := []byte{}
	offs := make([]int, len(tags))
	shared := map[*byte]int{}
	for i, t := range tags {
		if o, ok := shared[&t.data[0]]; ok {
			offs[i] = o
			continue
		}
		offs[i] = head + len(body)
		shared[&t.data[0]] = offs[i]
		body = append(body, t.data...)
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
	}
	p := make([]byte, head, head+len(body))
	p = append(p, body...)
	be := binary.BigEndian
	be.PutUint32(p[0:], uint32(len(p)))
	be.PutUint32(p[8:], 0x02100000) // version 2.1
	copy(p[12:], "mntr")
	copy(p[16:], "RGB ")
	copy(p[20:], "XYZ ")
	for i, v := range []uint16{2026, 1, 1, 0, 0, 0} {
		be.PutUint16(p[24+2*i:], v)
	}
	copy(p[36:], "acsp")
	be.PutUint32(p[68:], s15(0.9642))
	be.PutUint32(p[72:], s15(1.0))
	be.PutUint32(p[76:], s15(0.8249))
	be.PutUint32(p[128:], uint32(len(tags)))
	for i, t := range tags {
		q := p[132+12*i:]
		copy(q, t.sig)
		be.PutUint32(q[4:], uint32(offs[i]))
		be.PutUint32(q[8:], uint32(len(t.data)))
	}
	return p
})
