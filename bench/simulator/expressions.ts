// DynamoDB's condition and update expressions, evaluated on items in their wire form
// (AttributeValue maps), for the wave simulator's in-memory table. Written by hand: no
// maintained JavaScript library evaluates DynamoDB expressions (the npm packages build them;
// dynalite carries a parser, but its TransactWriteItems answers a failed condition with a plain
// ConditionalCheckFailedException instead of TransactionCanceledException and its reasons,
// which is exactly what the claims depend on).
//
// The grammar is the documented one, minus what no caller of the simulator uses (attribute_type
// on sets aside, the DELETE clause):
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.OperatorsAndFunctions.html
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.UpdateExpressions.html
// Anything outside it is a ValidationException, so a new expression in the store fails loudly in
// the simulator's tests instead of being evaluated wrongly.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

export type Item = Record<string, AttributeValue>;

/** A ValidationException, as DynamoDB names it. */
export class ExpressionError extends Error {
  override name = 'ValidationException';
}

export interface ExpressionContext {
  names?: Record<string, string>;
  values?: Record<string, AttributeValue>;
  /** The placeholders an expression of this request used: unused ones are a ValidationException. */
  usedNames: Set<string>;
  usedValues: Set<string>;
}

type PathElement = string | number;
type Path = PathElement[];

type Operand =
  | { kind: 'path'; path: Path }
  | { kind: 'value'; value: AttributeValue }
  | { kind: 'size'; path: Path }
  | { kind: 'if_not_exists'; path: Path; fallback: Operand }
  | { kind: 'list_append'; a: Operand; b: Operand }
  | { kind: 'arith'; op: '+' | '-'; a: Operand; b: Operand };

type Condition =
  | { kind: 'and' | 'or'; a: Condition; b: Condition }
  | { kind: 'not'; a: Condition }
  | { kind: 'compare'; op: '=' | '<>' | '<' | '<=' | '>' | '>='; a: Operand; b: Operand }
  | { kind: 'between'; a: Operand; low: Operand; high: Operand }
  | { kind: 'in'; a: Operand; list: Operand[] }
  | { kind: 'exists' | 'not_exists'; path: Path }
  | { kind: 'begins_with' | 'contains'; a: Operand; b: Operand }
  | { kind: 'attribute_type'; path: Path; type: Operand };

type Token = { type: 'word' | 'name' | 'value' | 'number' | 'punct'; text: string };

const PUNCT = ['<>', '<=', '>=', '=', '<', '>', '(', ')', ',', '.', '[', ']', '+', '-'];

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const punct = PUNCT.find((p) => source.startsWith(p, i));
    if (punct) {
      tokens.push({ type: 'punct', text: punct });
      i += punct.length;
      continue;
    }
    const match = /^([#:]?)[A-Za-z0-9_]+/.exec(source.slice(i));
    if (!match) throw new ExpressionError(`Invalid expression: syntax error; token: "${c}", near: "${source.slice(i, i + 10)}"`);
    const text = match[0];
    const type = match[1] === '#' ? 'name' : match[1] === ':' ? 'value' : /^[0-9]+$/.test(text) ? 'number' : 'word';
    tokens.push({ type, text });
    i += text.length;
  }
  return tokens;
}

class Parser {
  private pos = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly ctx: ExpressionContext,
  ) {}

  advance(): void {
    this.pos++;
  }

  done(): boolean {
    return this.pos >= this.tokens.length;
  }

  peek(offset = 0): Token | undefined {
    return this.tokens[this.pos + offset];
  }

  isWord(word: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t?.type === 'word' && t.text.toUpperCase() === word;
  }

  isPunct(text: string): boolean {
    const t = this.peek();
    return t?.type === 'punct' && t.text === text;
  }

  expectPunct(text: string): void {
    if (!this.isPunct(text)) throw this.syntax();
    this.pos++;
  }

  syntax(): ExpressionError {
    const t = this.peek();
    return new ExpressionError(`Invalid expression: syntax error; token: "${t?.text ?? '<EOF>'}"`);
  }

  // condition := or ; or := and (OR and)* ; and := not (AND not)* ; not := NOT not | primary
  condition(): Condition {
    let left = this.and();
    while (this.isWord('OR')) {
      this.pos++;
      left = { kind: 'or', a: left, b: this.and() };
    }
    return left;
  }

  private and(): Condition {
    let left = this.not();
    while (this.isWord('AND')) {
      this.pos++;
      left = { kind: 'and', a: left, b: this.not() };
    }
    return left;
  }

  private not(): Condition {
    if (this.isWord('NOT')) {
      this.pos++;
      return { kind: 'not', a: this.not() };
    }
    return this.primary();
  }

  private primary(): Condition {
    if (this.isPunct('(')) {
      this.pos++;
      const inner = this.condition();
      this.expectPunct(')');
      return inner;
    }
    const t = this.peek();
    if (t?.type === 'word' && this.peek(1)?.text === '(') {
      const fn = t.text;
      switch (fn) {
        case 'attribute_exists':
        case 'attribute_not_exists': {
          this.pos += 2;
          const path = this.path();
          this.expectPunct(')');
          return { kind: fn === 'attribute_exists' ? 'exists' : 'not_exists', path };
        }
        case 'begins_with':
        case 'contains': {
          this.pos += 2;
          const a = this.operand();
          this.expectPunct(',');
          const b = this.operand();
          this.expectPunct(')');
          return { kind: fn, a, b };
        }
        case 'attribute_type': {
          this.pos += 2;
          const path = this.path();
          this.expectPunct(',');
          const type = this.operand();
          this.expectPunct(')');
          return { kind: 'attribute_type', path, type };
        }
        default:
          if (fn !== 'size') throw new ExpressionError(`Invalid function name; function: ${fn}`);
      }
    }
    const a = this.operand();
    if (this.isWord('BETWEEN')) {
      this.pos++;
      const low = this.operand();
      if (!this.isWord('AND')) throw this.syntax();
      this.pos++;
      return { kind: 'between', a, low, high: this.operand() };
    }
    if (this.isWord('IN')) {
      this.pos++;
      this.expectPunct('(');
      const list = [this.operand()];
      while (this.isPunct(',')) {
        this.pos++;
        list.push(this.operand());
      }
      this.expectPunct(')');
      return { kind: 'in', a, list };
    }
    const op = this.peek();
    if (op?.type === 'punct' && ['=', '<>', '<', '<=', '>', '>='].includes(op.text)) {
      this.pos++;
      return { kind: 'compare', op: op.text as '=', a, b: this.operand() };
    }
    throw this.syntax();
  }

  /** A condition's operand: a path, a value, or size(path). */
  operand(): Operand {
    const t = this.peek();
    if (t?.type === 'value') {
      this.pos++;
      return { kind: 'value', value: this.value(t.text) };
    }
    if (t?.type === 'word' && t.text === 'size' && this.peek(1)?.text === '(') {
      this.pos += 2;
      const path = this.path();
      this.expectPunct(')');
      return { kind: 'size', path };
    }
    return { kind: 'path', path: this.path() };
  }

  /** An update's value: operand [+|- operand], with if_not_exists and list_append. */
  updateValue(): Operand {
    const a = this.updateOperand();
    if (this.isPunct('+') || this.isPunct('-')) {
      const op = (this.peek() as Token).text as '+' | '-';
      this.pos++;
      return { kind: 'arith', op, a, b: this.updateOperand() };
    }
    return a;
  }

  private updateOperand(): Operand {
    const t = this.peek();
    if (t?.type === 'word' && this.peek(1)?.text === '(') {
      if (t.text === 'if_not_exists') {
        this.pos += 2;
        const path = this.path();
        this.expectPunct(',');
        const fallback = this.updateValue();
        this.expectPunct(')');
        return { kind: 'if_not_exists', path, fallback };
      }
      if (t.text === 'list_append') {
        this.pos += 2;
        const a = this.updateValue();
        this.expectPunct(',');
        const b = this.updateValue();
        this.expectPunct(')');
        return { kind: 'list_append', a, b };
      }
      throw new ExpressionError(`Invalid function name; function: ${t.text}`);
    }
    if (t?.type === 'value') {
      this.pos++;
      return { kind: 'value', value: this.value(t.text) };
    }
    return { kind: 'path', path: this.path() };
  }

  /** name ('.' name | '[' n ']')* */
  path(): Path {
    const path: Path = [this.name()];
    for (;;) {
      if (this.isPunct('.')) {
        this.pos++;
        path.push(this.name());
      } else if (this.isPunct('[')) {
        this.pos++;
        const n = this.peek();
        if (n?.type !== 'number') throw this.syntax();
        this.pos++;
        path.push(Number(n.text));
        this.expectPunct(']');
      } else {
        return path;
      }
    }
  }

  private name(): string {
    const t = this.peek();
    if (t?.type === 'name') {
      this.pos++;
      const resolved = this.ctx.names?.[t.text];
      if (resolved === undefined) {
        throw new ExpressionError(`Value provided in ExpressionAttributeNames unused in expressions: An expression attribute name used in the document path is not defined; attribute name: ${t.text}`);
      }
      this.ctx.usedNames.add(t.text);
      return resolved;
    }
    if (t?.type === 'word') {
      if (RESERVED.has(t.text.toUpperCase())) {
        throw new ExpressionError(`Invalid expression: Attribute name is a reserved keyword; reserved keyword: ${t.text}`);
      }
      this.pos++;
      return t.text;
    }
    throw this.syntax();
  }

  private value(placeholder: string): AttributeValue {
    const value = this.ctx.values?.[placeholder];
    if (value === undefined) {
      throw new ExpressionError(`Invalid expression: An expression attribute value used in expression is not defined; attribute value: ${placeholder}`);
    }
    this.ctx.usedValues.add(placeholder);
    return value;
  }
}

/**
 * The reserved words our items could plausibly use as bare names (DynamoDB reserves 573; these
 * are the ones an attribute of this project is named after). Using one bare is the
 * ValidationException DynamoDB gives; the store names them with # placeholders.
 */
const RESERVED = new Set(['STATUS', 'DAY', 'TIMESTAMP', 'COUNT', 'NAME', 'TIME', 'OWNER', 'ROLE', 'DATA', 'KEY', 'VALUE', 'TTL', 'SIZE', 'AND', 'OR', 'NOT', 'IN', 'BETWEEN', 'SET', 'REMOVE', 'ADD', 'DELETE']);

export function newContext(names?: Record<string, string>, values?: Record<string, AttributeValue>): ExpressionContext {
  return { names, values, usedNames: new Set(), usedValues: new Set() };
}

/** Every placeholder given was used, as DynamoDB requires of one request. */
export function checkAllUsed(ctx: ExpressionContext): void {
  const unusedNames = Object.keys(ctx.names ?? {}).filter((n) => !ctx.usedNames.has(n));
  if (unusedNames.length > 0) throw new ExpressionError(`Value provided in ExpressionAttributeNames unused in expressions: keys: {${unusedNames.join(', ')}}`);
  const unusedValues = Object.keys(ctx.values ?? {}).filter((v) => !ctx.usedValues.has(v));
  if (unusedValues.length > 0) throw new ExpressionError(`Value provided in ExpressionAttributeValues unused in expressions: keys: {${unusedValues.join(', ')}}`);
}

/** Parses a condition (also a KeyConditionExpression); throws ExpressionError. */
export function parseCondition(expression: string, ctx: ExpressionContext): (item: Item | undefined) => boolean {
  const parser = new Parser(tokenize(expression), ctx);
  const condition = parser.condition();
  if (!parser.done()) throw parser.syntax();
  return (item) => evaluate(condition, item ?? {});
}

interface UpdateAction {
  clause: 'SET' | 'REMOVE' | 'ADD' | 'DELETE';
  path: Path;
  value?: Operand;
}

/** Parses an UpdateExpression into a function that returns the updated copy of an item. */
export function parseUpdate(expression: string, ctx: ExpressionContext): (item: Item) => Item {
  const parser = new Parser(tokenize(expression), ctx);
  const actions: UpdateAction[] = [];
  const seen = new Set<string>();
  while (!parser.done()) {
    const word = parser.peek();
    const clause = word?.type === 'word' ? word.text.toUpperCase() : '';
    if (clause !== 'SET' && clause !== 'REMOVE' && clause !== 'ADD' && clause !== 'DELETE') throw parser.syntax();
    if (seen.has(clause)) throw new ExpressionError(`Invalid UpdateExpression: The "${clause}" section can only be used once in an update expression;`);
    seen.add(clause);
    parser.advance();
    do {
      if (parser.isPunct(',')) parser.advance();
      const path = parser.path();
      if (clause === 'SET') {
        parser.expectPunct('=');
        actions.push({ clause, path, value: parser.updateValue() });
      } else if (clause === 'REMOVE') {
        actions.push({ clause, path });
      } else {
        actions.push({ clause, path, value: parser.operand() });
      }
    } while (parser.isPunct(','));
  }
  if (actions.length === 0) throw parser.syntax();
  const isPrefix = (p: Path, q: Path) => p.length <= q.length && p.every((e, i) => e === q[i]);
  actions.forEach((a, i) =>
    actions.forEach((b, j) => {
      if (i !== j && isPrefix(a.path, b.path)) {
        throw new ExpressionError(`Invalid UpdateExpression: Two document paths overlap with each other; path one: [${a.path.join(', ')}], path two: [${b.path.join(', ')}]`);
      }
    }),
  );
  return (item) => {
    // Every value is computed on the item as it was, then applied: SET a = b, b = a swaps.
    const computed = actions.map((a) => (a.value ? resolveUpdate(a.value, item) : undefined));
    const next = structuredClone(item);
    actions.forEach((action, i) => apply(next, action, computed[i]));
    return next;
  };
}

function apply(item: Item, action: UpdateAction, value: AttributeValue | undefined): void {
  const parentPath = action.path.slice(0, -1);
  const last = action.path[action.path.length - 1] as PathElement;
  const parent = parentPath.length === 0 ? { M: item } : resolvePath(parentPath, item);
  if (!parent) {
    if (action.clause === 'REMOVE') return;
    throw new ExpressionError('The document path provided in the update expression is invalid for update');
  }
  const container = typeof last === 'number' ? parent.L : parent.M;
  if (!container) throw new ExpressionError('The document path provided in the update expression is invalid for update');
  const current = (container as Record<PathElement, AttributeValue | undefined>)[last];
  switch (action.clause) {
    case 'SET':
      (container as Record<PathElement, AttributeValue>)[last] = value as AttributeValue;
      return;
    case 'REMOVE':
      if (Array.isArray(container) && typeof last === 'number') container.splice(last, 1);
      else delete (container as Record<PathElement, AttributeValue>)[last];
      return;
    case 'ADD': {
      const v = value as AttributeValue;
      let result: AttributeValue;
      if (v.N !== undefined) {
        if (current && current.N === undefined) throw new ExpressionError('An operand in the update expression has an incorrect data type');
        result = { N: String(Number(current?.N ?? 0) + Number(v.N)) };
      } else if (v.SS || v.NS || v.BS) {
        const kind = v.SS ? 'SS' : v.NS ? 'NS' : 'BS';
        const existing = (current as Record<string, unknown[]> | undefined)?.[kind] ?? [];
        if (current && !(kind in current)) throw new ExpressionError('An operand in the update expression has an incorrect data type');
        const added = (v as unknown as Record<string, unknown[]>)[kind] ?? [];
        result = { [kind]: [...new Set([...existing, ...added])] } as unknown as AttributeValue;
      } else {
        throw new ExpressionError('Incorrect operand type for operator or function; operator: ADD');
      }
      (container as Record<PathElement, AttributeValue>)[last] = result;
      return;
    }
    case 'DELETE':
      throw new ExpressionError('the simulator does not implement the DELETE clause');
  }
}

function resolveUpdate(operand: Operand, item: Item): AttributeValue {
  switch (operand.kind) {
    case 'if_not_exists':
      return resolvePath(operand.path, item) ?? resolveUpdate(operand.fallback, item);
    case 'list_append': {
      const a = resolveUpdate(operand.a, item);
      const b = resolveUpdate(operand.b, item);
      if (!a.L || !b.L) throw new ExpressionError('Incorrect operand type for operator or function; operator or function: list_append');
      return { L: [...a.L, ...b.L] };
    }
    case 'arith': {
      const a = resolveUpdate(operand.a, item);
      const b = resolveUpdate(operand.b, item);
      if (a.N === undefined || b.N === undefined) throw new ExpressionError(`Incorrect operand type for operator or function; operator: ${operand.op}`);
      return { N: String(operand.op === '+' ? Number(a.N) + Number(b.N) : Number(a.N) - Number(b.N)) };
    }
    default: {
      const v = resolveOperand(operand, item);
      if (v === undefined) throw new ExpressionError('The provided expression refers to an attribute that does not exist in the item');
      return v;
    }
  }
}

function resolvePath(path: Path, item: Item): AttributeValue | undefined {
  let current: AttributeValue | undefined = { M: item };
  for (const element of path) {
    if (current === undefined) return undefined;
    current = typeof element === 'number' ? current.L?.[element] : current.M?.[element];
  }
  return current;
}

function resolveOperand(operand: Operand, item: Item): AttributeValue | undefined {
  switch (operand.kind) {
    case 'path':
      return resolvePath(operand.path, item);
    case 'value':
      return operand.value;
    case 'size': {
      const v = resolvePath(operand.path, item);
      if (!v) return undefined;
      const size = v.S !== undefined ? Buffer.byteLength(v.S) : v.B ? v.B.length : (v.L ?? v.SS ?? v.NS ?? v.BS ?? (v.M ? Object.keys(v.M) : undefined))?.length;
      return size === undefined ? undefined : { N: String(size) };
    }
    default:
      return resolveUpdate(operand, item);
  }
}

function evaluate(c: Condition, item: Item): boolean {
  switch (c.kind) {
    case 'and':
      return evaluate(c.a, item) && evaluate(c.b, item);
    case 'or':
      return evaluate(c.a, item) || evaluate(c.b, item);
    case 'not':
      return !evaluate(c.a, item);
    case 'exists':
      return resolvePath(c.path, item) !== undefined;
    case 'not_exists':
      return resolvePath(c.path, item) === undefined;
    case 'compare': {
      const a = resolveOperand(c.a, item);
      const b = resolveOperand(c.b, item);
      // A comparison with a missing attribute is false; <> then holds (the two differ).
      if (a === undefined || b === undefined) return c.op === '<>';
      if (c.op === '=') return equal(a, b);
      if (c.op === '<>') return !equal(a, b);
      const order = compare(a, b);
      if (order === undefined) return false;
      return c.op === '<' ? order < 0 : c.op === '<=' ? order <= 0 : c.op === '>' ? order > 0 : order >= 0;
    }
    case 'between': {
      const [a, low, high] = [c.a, c.low, c.high].map((o) => resolveOperand(o, item));
      if (!a || !low || !high) return false;
      const lo = compare(a, low);
      const hi = compare(a, high);
      return lo !== undefined && hi !== undefined && lo >= 0 && hi <= 0;
    }
    case 'in': {
      const a = resolveOperand(c.a, item);
      return a !== undefined && c.list.some((o) => {
        const v = resolveOperand(o, item);
        return v !== undefined && equal(a, v);
      });
    }
    case 'begins_with': {
      const a = resolveOperand(c.a, item);
      const b = resolveOperand(c.b, item);
      return a?.S !== undefined && b?.S !== undefined && a.S.startsWith(b.S);
    }
    case 'contains': {
      const a = resolveOperand(c.a, item);
      const b = resolveOperand(c.b, item);
      if (!a || !b) return false;
      if (a.S !== undefined && b.S !== undefined) return a.S.includes(b.S);
      if (a.SS && b.S !== undefined) return a.SS.includes(b.S);
      if (a.NS && b.N !== undefined) return a.NS.some((n) => Number(n) === Number(b.N));
      if (a.L) return a.L.some((v) => equal(v, b));
      return false;
    }
    case 'attribute_type': {
      const a = resolvePath(c.path, item);
      const type = resolveOperand(c.type, item)?.S;
      return a !== undefined && type !== undefined && Object.keys(a)[0] === type;
    }
  }
}

/** Equality on wire values: numbers by value, sets regardless of order, the rest structurally. */
export function equal(a: AttributeValue, b: AttributeValue): boolean {
  if (a.N !== undefined && b.N !== undefined) return Number(a.N) === Number(b.N);
  const setKind = (['SS', 'NS', 'BS'] as const).find((k) => a[k] && b[k]);
  if (setKind) {
    const x = (a[setKind] as unknown[]).map(String).sort();
    const y = (b[setKind] as unknown[]).map(String).sort();
    return x.length === y.length && x.every((v, i) => v === y[i]);
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Order of two scalars of one type (strings by UTF-8 bytes, as DynamoDB); undefined otherwise. */
export function compare(a: AttributeValue, b: AttributeValue): number | undefined {
  if (a.N !== undefined && b.N !== undefined) return Number(a.N) - Number(b.N);
  if (a.S !== undefined && b.S !== undefined) return Buffer.compare(Buffer.from(a.S), Buffer.from(b.S));
  if (a.B !== undefined && b.B !== undefined) return Buffer.compare(Buffer.from(a.B), Buffer.from(b.B));
  return undefined;
}
