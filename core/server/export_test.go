package server

// RenderFramesOff makes s render the whole layout for every page, the way the kept frames
// must reproduce (TestLayoutFrameIsTheLayout).
func RenderFramesOff(s *Server, off bool) { s.noFrames = off }

// MultilineField reports whether a core form field may hold line breaks.
func MultilineField(name string) bool { return multilineFields.Multiline(name) }
