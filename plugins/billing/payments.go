package billing

// paymentsPart: see billing.go. (Frame: this part is being built.)
func (m *Module) paymentsPart() part { return part{} }
