// The published declarations (index.d.ts, prices.d.ts), read with the TypeScript compiler API: the
// names a module exports as values, the type of an export, an option's callback payload, and
// whether a value delivered at run time conforms to a declared type (every key declared, every
// required key present, every literal one of those declared), for tests/js/contract.test.mjs; and
// `typecheck`, which checks JavaScript sources (the README's examples) against those types.
import ts from 'typescript';

const F = ts.TypeFlags;

/** The declarations of the `.d.ts` file at `path`. */
export function declarations(path) {
  const program = ts.createProgram([path], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: [],
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(path);
  const problems = ts.getPreEmitDiagnostics(program, source);
  if (problems.length) {
    throw new Error(
      ts.formatDiagnostics(problems, {
        getCanonicalFileName: (f) => f,
        getCurrentDirectory: () => '',
        getNewLine: () => '\n',
      }),
    );
  }
  const exported = checker.getExportsOfModule(checker.getSymbolAtLocation(source));
  const byName = new Map(exported.map((s) => [s.name, s]));
  const typeOf = (symbol) => checker.getTypeOfSymbolAtLocation(symbol, source);
  const ours = (t) => t.symbol?.declarations?.some((d) => !d.getSourceFile().hasNoDefaultLib) ?? true;

  /** The type `name` declares: an interface's or alias's, a class's instances', a value's. */
  function type(name) {
    const symbol = byName.get(name);
    if (!symbol) throw new Error(`index.d.ts declares no ${name}`);
    if (symbol.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias)) {
      return checker.getDeclaredTypeOfSymbol(symbol);
    }
    return typeOf(symbol);
  }

  /** A property's declared type, `undefined` removed when it is optional. */
  function property(t, name) {
    const p = checker.getPropertyOfType(t, name);
    if (!p) throw new Error(`${checker.typeToString(t)} declares no ${name}`);
    return checker.getNonNullableType(typeOf(p));
  }

  /** The names of `t`'s properties whose type is a function and whose name starts with `on`. */
  function callbacks(t) {
    return checker
      .getPropertiesOfType(t)
      .filter((p) => p.name.startsWith('on') && checker.getNonNullableType(typeOf(p)).getCallSignatures().length)
      .map((p) => p.name);
  }

  /** The type of the first parameter of the function option `name` of `t`. */
  function payload(t, name) {
    const [signature] = property(t, name).getCallSignatures();
    return typeOf(signature.parameters[0]);
  }

  /** The declared types of the parameters of `fn` (a function or method type). */
  function parameters(t) {
    return t.getCallSignatures()[0].parameters.map(typeOf);
  }

  /** What `fn` (a function or method type) returns. */
  function returns(t) {
    return t.getCallSignatures()[0].getReturnType();
  }

  /** The string literals a type allows, or `null` when it allows any string. */
  function literals(t) {
    const members = t.isUnion() ? t.types : [t];
    if (members.some((m) => m.flags & F.String)) return null;
    return members.filter((m) => m.isStringLiteral()).map((m) => m.value);
  }

  /** Why `value` does not conform to `t` (nothing when it does), each line naming its path. */
  function conform(value, t, path = 'value') {
    const out = [];
    check(value, t, path, out, 0);
    return out;
  }

  function check(v, t, path, out, depth) {
    const f = t.flags;
    const show = (x) =>
      typeof x === 'string' ? JSON.stringify(x) : typeof x === 'object' && x ? 'an object' : String(x);
    if (f & (F.Any | F.Unknown) || depth > 8) return;
    if (t.isUnion()) {
      let best = null;
      for (const m of t.types) {
        const e = [];
        check(v, m, path, e, depth);
        if (!e.length) return;
        if (!best || e.length < best.length) best = e;
      }
      const simple = t.types.every((m) => !(m.flags & (F.Object | F.Intersection)));
      if (simple || typeof v !== 'object' || v === null) {
        out.push(`${path}: ${show(v)} is not ${checker.typeToString(t)}`);
      } else {
        out.push(...best);
      }
      return;
    }
    const fail = () => out.push(`${path}: ${show(v)} is not ${checker.typeToString(t)}`);
    if (f & F.Null) return v === null || fail();
    if (f & (F.Undefined | F.Void)) return v === undefined || fail();
    if (t.isStringLiteral() || t.isNumberLiteral()) return v === t.value || fail();
    if (f & F.BooleanLiteral) return v === (checker.typeToString(t) === 'true') || fail();
    if (f & (F.String | F.TemplateLiteral)) return typeof v === 'string' || fail();
    if (f & F.Number) return typeof v === 'number' || fail();
    if (f & F.Boolean) return typeof v === 'boolean' || fail();
    if (!(f & (F.Object | F.Intersection))) return;
    if (t.getCallSignatures().length) return typeof v === 'function' || fail();
    if (typeof v !== 'object' || v === null) return fail();
    if (checker.isArrayType(t)) {
      if (!Array.isArray(v)) return fail();
      const [element] = checker.getTypeArguments(t);
      for (const [i, item] of v.entries()) check(item, element, `${path}[${i}]`, out, depth + 1);
      return;
    }
    // A platform type (Response, Headers, Error): an instance of the global of that name.
    if (!ours(t)) {
      const global = globalThis[t.symbol?.name];
      if (typeof global === 'function' && !(v instanceof global)) fail();
      return;
    }
    const props = checker.getPropertiesOfType(t);
    const names = new Set(props.map((p) => p.name));
    const index = checker.getIndexInfosOfType(t)[0];
    for (const key of Object.keys(v)) {
      if (names.has(key)) continue;
      if (index) check(v[key], index.type, `${path}.${key}`, out, depth + 1);
      else out.push(`${path}.${key}: delivered, but ${checker.typeToString(t)} does not declare it`);
    }
    for (const p of props) {
      const optional = p.flags & ts.SymbolFlags.Optional;
      if (!(p.name in v)) {
        if (!optional) out.push(`${path}.${p.name}: declared, but not delivered`);
        continue;
      }
      // Methods and inherited platform members (Error's stack) are not payload.
      const declaredIn = p.declarations?.[0];
      if (declaredIn?.getSourceFile().hasNoDefaultLib) continue;
      if (ts.isMethodSignature(declaredIn ?? source) || ts.isMethodDeclaration(declaredIn ?? source)) continue;
      check(v[p.name], typeOf(p), `${path}.${p.name}`, out, depth + 1);
    }
  }

  return {
    /** The names the module exports as values (functions, classes, constants), sorted. */
    values: exported
      .filter((s) => s.flags & ts.SymbolFlags.Value)
      .map((s) => s.name)
      .sort(),
    type,
    property,
    callbacks,
    payload,
    parameters,
    returns,
    literals,
    conform,
    text: (t) => checker.typeToString(t),
  };
}

/**
 * Type-checks JavaScript sources held in memory (`files`: a Map of path to text, the paths where
 * their imports resolve from) as `tsc --checkJs` would; the diagnostics, one line each.
 */
export function typecheck(files) {
  const options = {
    strict: false,
    noEmit: true,
    allowJs: true,
    checkJs: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (f) => files.has(f) || fileExists.call(host, f);
  host.readFile = (f) => files.get(f) ?? readFile.call(host, f);
  host.getSourceFile = (f, target, ...rest) =>
    files.has(f) ? ts.createSourceFile(f, files.get(f), target, true) : getSourceFile.call(host, f, target, ...rest);
  const program = ts.createProgram([...files.keys()], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}` : '';
    return `${where} TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}
