// Small, pure object helpers shared by the responder and its adapters.

/** The object without its undefined properties: what DynamoDB and JSON records should hold. */
export function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
