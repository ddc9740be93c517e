'use strict';
// Validates Kubernetes objects against one version of a CustomResourceDefinition with ajv 8, as strictly as the API
// server (with kubectl's default --validate=strict) treats them:
//  - a field the schema does not declare is an error. The API server prunes such fields from structural schemas (or,
//    with strict field validation, rejects them); the CRD says so only implicitly, so every object schema that lists
//    properties and neither sets additionalProperties nor x-kubernetes-preserve-unknown-fields gets
//    additionalProperties: false here (in memory; the CRD file is not changed);
//  - apiVersion and kind must be the CRD's, metadata.name a DNS-1123 subdomain (ObjectMeta is not in the CRD schema);
//  - x-kubernetes-list-type map / set: keys (values) must be unique; int32 / int64 formats: integers in range.
// Usage: node crd-validate.cjs <dir holding node_modules/ajv> <crd.json> <version> <objects.json>
//   objects.json: [{"name": "...", "object": {...}}, ...]; prints [{"name", "valid", "errors": [ajv errors]}] as JSON.
const fs = require('fs');
const [ajvHome, crdFile, version, objectsFile] = process.argv.slice(2);
const Ajv = require(require.resolve('ajv', { paths: [ajvHome] }));

const crd = JSON.parse(fs.readFileSync(crdFile, 'utf8'));
const served = crd.spec.versions.find(v => v.name === version);
if (!served) throw new Error(`the CRD has no version ${version}: ${crd.spec.versions.map(v => v.name)}`);

function strict(s) {
  if (Array.isArray(s)) { s.forEach(strict); return; }
  if (s === null || typeof s !== 'object') return;
  if (s.properties && s.additionalProperties === undefined && !s['x-kubernetes-preserve-unknown-fields']) {
    s.additionalProperties = false;
  }
  for (const k of ['items', 'additionalProperties', 'not']) if (typeof s[k] === 'object') strict(s[k]);
  for (const k of ['anyOf', 'allOf', 'oneOf']) if (s[k]) strict(s[k]);
  if (s.properties) Object.values(s.properties).forEach(strict);
}
const schema = structuredClone(served.schema.openAPIV3Schema);
strict(schema);
schema.required = [...new Set([...(schema.required || []), 'apiVersion', 'kind', 'metadata'])];
schema.properties.apiVersion = { const: `${crd.spec.group}/${version}` };
schema.properties.kind = { const: crd.spec.names.kind };
schema.properties.metadata = {
  type: 'object', required: ['name'],
  properties: { name: { type: 'string', maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$' } },
};

const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
for (const k of ['x-kubernetes-int-or-string', 'x-kubernetes-map-type', 'x-kubernetes-list-map-keys',
  'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-embedded-resource']) ajv.addKeyword({ keyword: k });
ajv.addKeyword({
  keyword: 'x-kubernetes-list-type', type: 'array', schemaType: 'string', errors: true,
  validate: function unique(kind, data, parent) {
    if (kind === 'atomic') return true;
    const keys = kind === 'map' ? parent['x-kubernetes-list-map-keys'] : null;
    const seen = new Set();
    for (const item of data) {
      const key = JSON.stringify(keys ? keys.map(k => item[k]) : item);
      if (seen.has(key)) {
        unique.errors = [{ keyword: 'x-kubernetes-list-type', message: `duplicate ${keys ? keys.join(',') : 'item'} ${key}`, params: { kind } }];
        return false;
      }
      seen.add(key);
    }
    return true;
  },
});
ajv.addFormat('int32', { type: 'number', validate: x => Number.isInteger(x) && x >= -(2 ** 31) && x < 2 ** 31 });
ajv.addFormat('int64', { type: 'number', validate: x => Number.isInteger(x) });
ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i);

const validate = ajv.compile(schema);
const results = JSON.parse(fs.readFileSync(objectsFile, 'utf8')).map(({ name, object }) => {
  const valid = validate(object);
  return { name, valid, errors: valid ? [] : validate.errors };
});
process.stdout.write(JSON.stringify(results));
