import { Size, type APIObject } from '../api/index.js';

/** A path into an object: keys and array indexes. */
type Path = (string | number)[];

/**
 * A decoded object as plain JSON, with what JSON cannot carry named by path: the Size values
 * (held as bytes in `json`) and the keys present with the value undefined. `revive` turns it back
 * into an object equal to the one it was made from, without running the schema again.
 */
export interface DecodedForm {
  json: unknown;
  sizes?: Path[];
  undefs?: Path[];
}

/**
 * The decoded form of `obj`, or undefined when it holds a value the form cannot carry (a class
 * other than Size, a non-finite number): such an object is decoded from its bytes every time.
 */
export function toDecodedForm(obj: APIObject): DecodedForm | undefined {
  const sizes: Path[] = [];
  const undefs: Path[] = [];
  const json = plain(obj, [], sizes, undefs);
  if (json === UNFIT) return undefined;
  return {
    json,
    ...(sizes.length > 0 ? { sizes } : {}),
    ...(undefs.length > 0 ? { undefs } : {}),
  };
}

const UNFIT = Symbol('unfit');

function plain(v: unknown, path: Path, sizes: Path[], undefs: Path[]): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : UNFIT;
  if (v instanceof Size) {
    sizes.push(path);
    return v.bytes;
  }
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    for (let i = 0; i < v.length; i++) {
      const item: unknown = v[i];
      if (item === undefined) {
        undefs.push([...path, i]);
        out.push(null);
        continue;
      }
      const p = plain(item, [...path, i], sizes, undefs);
      if (p === UNFIT) return UNFIT;
      out.push(p);
    }
    return out;
  }
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v)) {
      // Assigning it would set the copy's prototype, not a key.
      if (k === '__proto__') return UNFIT;
      if (val === undefined) {
        undefs.push([...path, k]);
        continue;
      }
      const p = plain(val, [...path, k], sizes, undefs);
      if (p === UNFIT) return UNFIT;
      out[k] = p;
    }
    return out;
  }
  return UNFIT;
}

/**
 * The object a decoded form was made from. Throws TypeError on a form that does not fit its
 * paths (a damaged cache), which callers treat as absent.
 */
export function reviveDecodedForm(form: DecodedForm): APIObject {
  if (typeof form !== 'object' || form === null) throw new TypeError('decoded form: not a form');
  const root = form.json;
  if (root === null || typeof root !== 'object' || Array.isArray(root))
    throw new TypeError('decoded form: not an object');
  for (const path of form.sizes ?? []) {
    const [parent, key] = locate(root, path);
    const bytes = parent[key];
    if (typeof bytes !== 'number') throw new TypeError('decoded form: size is not a number');
    parent[key] = Size.fromBytes(bytes);
  }
  for (const path of form.undefs ?? []) {
    const [parent, key] = locate(root, path);
    parent[key] = undefined;
  }
  return root as APIObject;
}

/** reviveDecodedForm, or undefined for what is not a form that fits (so: treated as absent). */
export function reviveIfFit(form: unknown): APIObject | undefined {
  try {
    return reviveDecodedForm(form as DecodedForm);
  } catch {
    return undefined;
  }
}

function locate(root: object, path: Path): [Record<string | number, unknown>, string | number] {
  if (!Array.isArray(path) || path.length === 0) throw new TypeError('decoded form: bad path');
  let cur: unknown = root;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i] as string | number;
    if (cur === null || typeof cur !== 'object') throw new TypeError('decoded form: bad path');
    cur = (cur as Record<string | number, unknown>)[key];
  }
  if (cur === null || typeof cur !== 'object') throw new TypeError('decoded form: bad path');
  return [cur as Record<string | number, unknown>, path[path.length - 1] as string | number];
}
