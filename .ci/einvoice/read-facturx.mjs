// Reads a Factur-X PDF with factur-x-kit (npm), a reader we did not write: it finds the
// embedded XML, identifies its profile and checks the EN 16931 business rules it implements.
// Prints what it read as JSON; the billing tests (plugins/billing/documents_test.go) run it.
import { readFileSync } from 'node:fs';
import { FacturX } from 'factur-x-kit';

const fx = await FacturX.fromPDF(new Uint8Array(readFileSync(process.argv[2])));
const o = fx.object;
console.log(JSON.stringify({ profile: o.profile, validation: fx.validate(), document: o.document, totals: o.totals }));
