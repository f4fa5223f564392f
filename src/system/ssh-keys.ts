/** A VM's SSH key pair, made at create when it asks for `ssh: true`. */
export interface SSHKeys {
  /** Generates `<dir>/id_<uid>` (mode 0600) and its `.pub`, replacing a pair there; returns the public key. */
  generate(dir: string, uid: string): Promise<string>;
}
