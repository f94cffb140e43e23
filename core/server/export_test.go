package server

// RenderFramesOff makes s render the whole layout for every page, the way the kept frames
// must reproduce (TestLayoutFrameIsTheLayout).
func RenderFramesOff(s *Server, off bool) { s.noFrames = off }
