package eshop

// staffPart: the collection point's and the lab's work — rescheduling (E7), attendance and
// refusals (E8, E9), the lab's withdrawal and force majeure (E13), results and late-result
// claims (E10, E11), critical values, complaints (E12).
func (m *Module) staffPart() part {
	return part{}
}
