package eshop

// resultsPart: the lab's results — sample registration, publication, the customer's e-mail
// and SMS link (E10), the external consultation partner (E11), late-result claims (E10),
// critical values, complaints (E12), keeping results when an account goes (E13).
func (m *Module) resultsPart() part {
	return part{}
}
