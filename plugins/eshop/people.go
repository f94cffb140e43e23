package eshop

// peoplePart: what the shop asks at registration (E2) and the people a customer represents
// (the core's dependants, P2).
func (m *Module) peoplePart() part {
	return part{}
}
