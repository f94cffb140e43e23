package billing

// usagePart: see billing.go. (Frame: this part is being built.)
func (m *Module) usagePart() part { return part{} }
