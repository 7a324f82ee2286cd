// Results remembered per object, for objects that are replaced, never edited, when they change:
// an informer's objects and the values built from them. A rebuild over 1,000 services then does
// again only what changed. Results are shared: callers must not change them.

/** `compute(obj)`, once per object. */
export function perObject<K extends object, R>(compute: (obj: K) => R): (obj: K) => R {
  const memo = new WeakMap<K, R>();
  return (obj) => {
    if (memo.has(obj)) return memo.get(obj) as R;
    const result = compute(obj);
    memo.set(obj, result);
    return result;
  };
}

/** `compute(obj, context)`, once per object while the context stays the same (by identity). */
export function perObjectIn<K extends object, C, R>(
  compute: (obj: K, context: C) => R,
): (obj: K, context: C) => R {
  const memo = new WeakMap<K, { readonly context: C; readonly result: R }>();
  return (obj, context) => {
    const known = memo.get(obj);
    if (known !== undefined && known.context === context) return known.result;
    const result = compute(obj, context);
    memo.set(obj, { context, result });
    return result;
  };
}
