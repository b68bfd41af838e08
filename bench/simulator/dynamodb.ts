// DynamoDB for the wave simulator: in-memory tables answering the calls the responder's store,
// target index and history make (GetItem, PutItem, UpdateItem, DeleteItem, BatchGetItem,
// BatchWriteItem, TransactWriteItems, Query), in their wire form (AttributeValue maps, as the
// document client sends them after marshalling), with the semantics the claims rely on:
// - a failed ConditionExpression is ConditionalCheckFailedException (the old item on it when
//   ReturnValuesOnConditionCheckFailure is ALL_OLD);
// - TransactWriteItems is all or nothing: a failed condition cancels it with
//   TransactionCanceledException and one CancellationReason per item, in order ("None" for the
//   others), the old item on the failed ones when asked; two items on one key is a
//   ValidationException;
// - while a transaction is in flight (from its arrival at the service until it answers), another
//   transaction on one of its items is cancelled with TransactionConflict, and a PutItem,
//   UpdateItem or DeleteItem on one is refused with TransactionConflictException;
// - unused ExpressionAttributeNames/Values, and the documented item-count limits (100 keys per
//   BatchGetItem, 25 writes per BatchWriteItem, 100 items per TransactWriteItems) are
//   ValidationExceptions.
// Each request is applied at one instant (JavaScript runs one at a time), so two conditional
// writes on one key can never both succeed: that is what makes exactly-once claims hold.
// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-conflict-handling
// Not modelled: capacity (on-demand tables take a wave), item size limits, ClientRequestToken
// idempotency, eventual consistency (every read is strongly consistent).
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { checkAllUsed, compare, newContext, parseCondition, parseUpdate, type ExpressionContext, type Item } from './expressions';
import { SimulatedServiceError } from './throttle';

export interface TableDefinition {
  name: string;
  partitionKey: string;
  sortKey?: string;
  /** Global secondary indexes, projecting every attribute. */
  indexes?: { name: string; partitionKey: string; sortKey?: string }[];
}

type Input = Record<string, any>;

interface Table {
  def: TableDefinition;
  items: Map<string, Item>;
}

interface Write {
  table: Table;
  key: string;
  /** The item after the write; undefined deletes it. */
  next: (old: Item | undefined) => Item | undefined;
  condition?: (old: Item | undefined) => boolean;
  returnOld: boolean;
}

/** DynamoDB's own error, as the SDK deserializes it (name = code, HTTP 400, client fault). */
function ddbError(code: string, message: string, extra: Record<string, unknown> = {}): SimulatedServiceError {
  return Object.assign(new SimulatedServiceError(code, 400, message), extra);
}

const validation = (message: string) => ddbError('ValidationException', message);

export class SimulatedDynamo {
  private readonly tables = new Map<string, Table>();
  /** Keys (`table|key`) under a transaction between its arrival and its answer. */
  private readonly inFlight = new Set<string>();

  createTable(def: TableDefinition): void {
    this.tables.set(def.name, { def, items: new Map() });
  }

  /** The items of a table in wire form, for tests and the benchmark's checks. */
  items(tableName: string): Item[] {
    return [...(this.tables.get(tableName)?.items.values() ?? [])];
  }

  /**
   * Answers one command. `arrive` resolves when the request reaches the service and `answer`
   * when the response is back (the simulator's latency split in two): a transaction holds its
   * items in between.
   */
  async handle(command: string, input: Input, latency: { arrive: () => Promise<void>; answer: () => Promise<void> }): Promise<Record<string, unknown>> {
    await latency.arrive();
    let held: string[] = [];
    try {
      if (command !== 'TransactWriteItems') return this.apply(command, input);
      held = this.transact(input);
      return {};
    } finally {
      // Answers and errors alike travel back; a committed transaction holds its items until then.
      held.forEach((k) => this.inFlight.add(k));
      try {
        await latency.answer();
      } finally {
        held.forEach((k) => this.inFlight.delete(k));
      }
    }
  }

  /** Applies a transaction at once, or throws its cancellation; returns the keys it holds while in flight. */
  private transact(input: Input): string[] {
    const writes = this.transactionWrites(input);
    const keys = writes.map((w) => `${w.table.def.name}|${w.key}`);
    const conflicts = keys.map((k) => this.inFlight.has(k));
    if (conflicts.some(Boolean)) {
      throw cancelled(conflicts.map((c) => (c ? { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' } : { Code: 'None' })));
    }
    const reasons = writes.map((w) => {
      const old = w.table.items.get(w.key);
      if (!w.condition || w.condition(old)) return { Code: 'None' };
      return { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed', ...(w.returnOld && old ? { Item: structuredClone(old) } : {}) };
    });
    if (reasons.some((r) => r.Code !== 'None')) throw cancelled(reasons);
    const next = writes.map((w) => w.next(w.table.items.get(w.key)));
    writes.forEach((w, i) => this.put(w.table, w.key, next[i]));
    return keys;
  }

  private apply(command: string, input: Input): Record<string, unknown> {
    switch (command) {
      case 'GetItem': {
        const table = this.table(input.TableName);
        const item = table.items.get(this.keyOf(table, input.Key));
        return item ? { Item: structuredClone(item) } : {};
      }
      case 'PutItem':
      case 'UpdateItem':
      case 'DeleteItem': {
        const write = this.singleWrite(command, input);
        if (this.inFlight.has(`${write.table.def.name}|${write.key}`)) {
          throw ddbError('TransactionConflictException', 'Transaction is ongoing for the item');
        }
        const old = write.table.items.get(write.key);
        if (write.condition && !write.condition(old)) {
          throw ddbError('ConditionalCheckFailedException', 'The conditional request failed', write.returnOld && old ? { Item: structuredClone(old) } : {});
        }
        const next = write.next(old);
        this.put(write.table, write.key, next);
        return returnValues(input.ReturnValues, old, next);
      }
      case 'BatchGetItem': {
        const requests = Object.entries((input.RequestItems ?? {}) as Record<string, { Keys: Item[] }>);
        const count = requests.reduce((n, [, r]) => n + r.Keys.length, 0);
        if (count > 100) throw validation('Too many items requested for the BatchGetItem call');
        const responses: Record<string, Item[]> = {};
        for (const [name, request] of requests) {
          const table = this.table(name);
          const keys = request.Keys.map((k) => this.keyOf(table, k));
          if (new Set(keys).size !== keys.length) throw validation('Provided list of item keys contains duplicates');
          responses[name] = keys.flatMap((k) => {
            const item = table.items.get(k);
            return item ? [structuredClone(item)] : [];
          });
        }
        return { Responses: responses, UnprocessedKeys: {} };
      }
      case 'BatchWriteItem': {
        const requests = Object.entries((input.RequestItems ?? {}) as Record<string, { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }[]>);
        const count = requests.reduce((n, [, r]) => n + r.length, 0);
        if (count > 25) throw validation('Too many items requested for the BatchWriteItem call');
        for (const [name, writes] of requests) {
          const table = this.table(name);
          for (const w of writes) {
            if (w.PutRequest) this.put(table, this.keyOf(table, w.PutRequest.Item), structuredClone(w.PutRequest.Item));
            else if (w.DeleteRequest) this.put(table, this.keyOf(table, w.DeleteRequest.Key), undefined);
          }
        }
        return { UnprocessedItems: {} };
      }
      case 'Query':
        return this.query(input);
      default:
        throw ddbError('UnknownOperationException', `the simulator does not answer dynamodb:${command}`);
    }
  }

  private table(name: unknown): Table {
    const table = this.tables.get(String(name));
    if (!table) throw ddbError('ResourceNotFoundException', 'Requested resource not found');
    return table;
  }

  /** The item's primary key as one string; a key without the table's key attributes is a ValidationException. */
  private keyOf(table: Table, key: Item): string {
    const parts = [table.def.partitionKey, ...(table.def.sortKey ? [table.def.sortKey] : [])].map((name) => {
      const v = key[name];
      const scalar = v?.S ?? v?.N ?? (v?.B ? Buffer.from(v.B).toString('base64') : undefined);
      if (scalar === undefined) throw validation('The provided key element does not match the schema');
      return scalar;
    });
    return JSON.stringify(parts);
  }

  private put(table: Table, key: string, item: Item | undefined): void {
    if (item) table.items.set(key, item);
    else table.items.delete(key);
  }

  private singleWrite(command: 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'Put' | 'Update' | 'Delete' | 'ConditionCheck', input: Input): Write {
    const table = this.table(input.TableName);
    const ctx = newContext(input.ExpressionAttributeNames, input.ExpressionAttributeValues);
    const condition = input.ConditionExpression ? parseCondition(String(input.ConditionExpression), ctx) : undefined;
    let next: Write['next'];
    let key: string;
    switch (command) {
      case 'PutItem':
      case 'Put': {
        key = this.keyOf(table, input.Item as Item);
        const item = structuredClone(input.Item as Item);
        next = () => item;
        break;
      }
      case 'UpdateItem':
      case 'Update': {
        key = this.keyOf(table, input.Key as Item);
        if (!input.UpdateExpression) throw validation('the simulator needs an UpdateExpression');
        const update = parseUpdate(String(input.UpdateExpression), ctx);
        const keyAttributes = structuredClone(input.Key as Item);
        next = (old) => {
          const updated = update(old ?? keyAttributes);
          for (const name of Object.keys(keyAttributes)) {
            if (JSON.stringify(updated[name]) !== JSON.stringify(keyAttributes[name])) {
              throw validation(`One or more parameter values were invalid: Cannot update attribute ${name}. This attribute is part of the key`);
            }
          }
          return updated;
        };
        break;
      }
      case 'DeleteItem':
      case 'Delete':
        key = this.keyOf(table, input.Key as Item);
        next = () => undefined;
        break;
      case 'ConditionCheck':
        key = this.keyOf(table, input.Key as Item);
        next = (old) => old;
        break;
    }
    checkAllUsed(ctx);
    return { table, key, next, ...(condition ? { condition } : {}), returnOld: input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' };
  }

  private transactionWrites(input: Input): Write[] {
    const items = (input.TransactItems ?? []) as Record<string, Input>[];
    if (items.length === 0 || items.length > 100) {
      throw validation('1 validation error detected: Value at \'transactItems\' failed to satisfy constraint: Member must have length less than or equal to 100');
    }
    const writes = items.map((entry) => {
      const kinds = Object.keys(entry) as ('Put' | 'Update' | 'Delete' | 'ConditionCheck')[];
      const kind = kinds[0];
      if (kinds.length !== 1 || !kind) throw validation('TransactItems can only contain one of Check, Put, Update or Delete');
      return this.singleWrite(kind, entry[kind] as Input);
    });
    const keys = writes.map((w) => `${w.table.def.name}|${w.key}`);
    if (new Set(keys).size !== keys.length) throw validation('Transaction request cannot include multiple operations on one item');
    return writes;
  }

  /** Query on the table or one of its indexes: the key condition, newest first when asked, Limit pages. */
  private query(input: Input): Record<string, unknown> {
    const table = this.table(input.TableName);
    const index = input.IndexName ? table.def.indexes?.find((i) => i.name === input.IndexName) : undefined;
    if (input.IndexName && !index) throw validation('The table does not have the specified index');
    const sortKey = index ? index.sortKey : table.def.sortKey;
    const ctx: ExpressionContext = newContext(input.ExpressionAttributeNames, input.ExpressionAttributeValues);
    const matches = parseCondition(String(input.KeyConditionExpression), ctx);
    const filter = input.FilterExpression ? parseCondition(String(input.FilterExpression), ctx) : () => true;
    checkAllUsed(ctx);
    const bySort = (a: Item, b: Item) => (sortKey && a[sortKey] && b[sortKey] ? (compare(a[sortKey] as AttributeValue, b[sortKey] as AttributeValue) ?? 0) : 0);
    let found = [...table.items.values()].filter((item) => matches(item)).sort(bySort);
    if (input.ScanIndexForward === false) found.reverse();
    const position = (item: Item) => JSON.stringify([table.def.partitionKey, ...(sortKey ? [sortKey] : [])].map((k) => item[k]));
    if (input.ExclusiveStartKey) {
      const start = found.findIndex((item) => position(item) === position(input.ExclusiveStartKey as Item));
      found = found.slice(start + 1);
    }
    const limit = typeof input.Limit === 'number' ? input.Limit : Infinity;
    const page = found.slice(0, limit);
    const last = page[page.length - 1];
    const keyNames = [table.def.partitionKey, ...(table.def.sortKey ? [table.def.sortKey] : []), ...(index ? [index.partitionKey, ...(index.sortKey ? [index.sortKey] : [])] : [])];
    return {
      Items: page.filter((item) => filter(item)).map((item) => structuredClone(item)),
      Count: page.length,
      ...(found.length > limit && last ? { LastEvaluatedKey: Object.fromEntries(keyNames.map((k) => [k, last[k]])) } : {}),
    };
  }
}

function cancelled(reasons: Record<string, unknown>[]): SimulatedServiceError {
  const codes = reasons.map((r) => r.Code).join(', ');
  return ddbError('TransactionCanceledException', `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes}]`, {
    CancellationReasons: reasons,
  });
}

function returnValues(mode: unknown, old: Item | undefined, next: Item | undefined): Record<string, unknown> {
  if (mode === 'ALL_OLD' && old) return { Attributes: structuredClone(old) };
  if (mode === 'ALL_NEW' && next) return { Attributes: structuredClone(next) };
  if (mode !== undefined && mode !== 'NONE' && mode !== 'ALL_OLD' && mode !== 'ALL_NEW') {
    throw validation(`the simulator answers ReturnValues NONE, ALL_OLD and ALL_NEW, not ${String(mode)}`);
  }
  return {};
}
