/** Where the page is served from, as `location` tells. */
export interface PageLocation {
  protocol: string;
  hostname: string;
}

/** Whether a host name is this machine: `localhost`, 127.0.0.0/8 or ::1. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return (
    h === 'localhost' ||
    h.endsWith('.localhost') ||
    h === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
  );
}

/**
 * Whether the page may send its bearer token: only over https, or to this machine, where nothing
 * on the network can read it. A token typed into a page served over plain http elsewhere would
 * cross the network in the clear.
 */
export function maySendToken(location: PageLocation): boolean {
  return location.protocol === 'https:' || isLoopback(location.hostname);
}

/** The token the user gave, kept for this tab only (sessionStorage), sent only when allowed. */
export class TokenStore {
  private static readonly KEY = 'ignite.token';

  constructor(
    private readonly storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>,
    readonly allowed: boolean,
  ) {}

  get(): string | undefined {
    if (!this.allowed) return undefined;
    const t = this.storage.getItem(TokenStore.KEY);
    return t === null || t === '' ? undefined : t;
  }

  set(token: string): void {
    if (this.allowed) this.storage.setItem(TokenStore.KEY, token.trim());
  }

  clear(): void {
    this.storage.removeItem(TokenStore.KEY);
  }
}
