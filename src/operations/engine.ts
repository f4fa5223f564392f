import type { StoredImage, StoredKernel, StoredSnapshot, StoredVM, VM } from '../api/index.js';
import type { PullProgress } from '../image/index.js';
import type { LogLevel } from '../system/logger.js';

/** The kinds besides VMs that front ends import, list and remove. */
export type ArtifactKind = 'Image' | 'Kernel';

export interface StoredArtifact {
  Image: StoredImage;
  Kernel: StoredKernel;
}

/** With `start`, `createVM` is `run`: the VM is started once created. */
export interface EngineCreateOptions {
  start?: {
    timeoutMs: number;
    /** With SSH enabled, how long its SSH server gets to answer. */
    sshTimeoutMs: number;
    logLevel?: LogLevel;
  };
}

export interface EngineStartOptions {
  timeoutMs?: number;
  logLevel?: LogLevel;
}

export interface EngineStopOptions {
  kill: boolean;
  /** Save the guest's state first, so the next start resumes it (`stop --save`). */
  save?: boolean;
  timeoutMs?: number;
}

export interface EngineLogsOptions {
  /** The supervisor's own log instead of the guest console. */
  spawn?: boolean;
  /** Keep copying what the guest prints until the VM stops or the caller aborts. */
  follow?: boolean;
  signal?: AbortSignal;
}

/** A terminal to connect to a VM's console. */
export interface ConsoleIO {
  stdin: NodeJS.ReadableStream & { setRawMode?: (raw: boolean) => unknown; isTTY?: boolean };
  stdout: NodeJS.WritableStream;
}

export interface EngineExecOptions {
  /** One word is a shell command line; several are an argv; none is a login shell. */
  command: string[];
  tty: boolean;
  /** How long to wait for the guest's SSH server. */
  timeoutSeconds: number;
  /** A private key file on this host, instead of the VM's own. */
  identity?: string;
  signal?: AbortSignal;
}

/** Where a command in a guest reads and writes. */
export interface ExecIO {
  stdin: NodeJS.ReadableStream & { setRawMode?: (raw: boolean) => unknown; isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface EngineImportOptions {
  progress?: PullProgress;
}

/**
 * What the front ends (the CLI's VM, image and kernel commands, gitops) ask of ignite. Two
 * implementations: `localEngine` (operations/local-engine.ts) runs the use cases on this host's
 * data dir; `RemoteEngine` (remote/) asks an `ignited` over its API. Either gives the same objects
 * and throws the same AppErrors, so output and exit codes do not depend on the mode.
 *
 * Queries are a name, a UID, or a unique prefix of either.
 */
export interface VMEngine {
  /** Every VM, oldest first, each with its state made true (a dead supervisor is seen). */
  listVMs(): Promise<StoredVM[]>;
  findVM(query: string): Promise<StoredVM>;
  /** Creates a VM from a manifest (`--config` with the flags merged over it), started if asked. */
  createVM(manifest: VM, options?: EngineCreateOptions): Promise<StoredVM>;
  startVM(query: string, options?: EngineStartOptions): Promise<StoredVM>;
  stopVM(query: string, options: EngineStopOptions): Promise<StoredVM>;
  /**
   * Replaces a VM with a manifest of it: labels and annotations in place; spec fields only of a
   * stopped VM, and only those its disk does not depend on.
   */
  replaceVM(query: string, manifest: VM): Promise<StoredVM>;
  /** Removes a VM and all it has; returns its UID. */
  removeVM(query: string, options: { force: boolean }): Promise<string>;
  /** Copies a VM's console log (or its supervisor's) to `out`. */
  vmLogs(query: string, out: NodeJS.WritableStream, options?: EngineLogsOptions): Promise<void>;
  /** A running VM's metrics, as Prometheus text. */
  vmMetrics(query: string): Promise<string>;
  /** Connects `io` to a running VM's console until the user detaches or the VM stops. */
  attach(query: string, io: ConsoleIO): Promise<void>;
  /** Runs a command in a running VM's guest over SSH, from the VM's own host; returns its status. */
  exec(query: string, options: EngineExecOptions, io: ExecIO): Promise<number>;
}

export interface ArtifactEngine {
  listArtifacts<K extends ArtifactKind>(kind: K): Promise<StoredArtifact[K][]>;
  findArtifact<K extends ArtifactKind>(kind: K, query: string): Promise<StoredArtifact[K]>;
  /** Pulls an OCI reference (or returns what is already imported from it). */
  importArtifact<K extends ArtifactKind>(
    kind: K,
    ref: string,
    options?: EngineImportOptions,
  ): Promise<StoredArtifact[K]>;
  /** Refuses one a VM uses unless `force`, which removes those VMs too; returns its UID. */
  removeArtifact(kind: ArtifactKind, query: string, options: { force: boolean }): Promise<string>;
}

export type Engine = VMEngine & ArtifactEngine;

export interface EngineSnapshotOptions {
  /** The snapshot's name; default `<vm>-<n>`. */
  name?: string;
  /** End the VM once saved; its next start resumes from the snapshot. */
  stop?: boolean;
  timeoutMs?: number;
}

/**
 * The snapshot commands (docs/snapshots.md): on this host's data dir, or through an `ignited`
 * (its `/snapshots` routes). Snapshots stay on the host of their VM.
 */
export interface SnapshotEngine {
  /** Every snapshot, oldest first. */
  listSnapshots(): Promise<StoredSnapshot[]>;
  findSnapshot(query: string): Promise<StoredSnapshot>;
  /** Snapshots the running VM `vm`; it goes on, or with `stop` ends. */
  createSnapshot(vm: string, options?: EngineSnapshotOptions): Promise<StoredSnapshot>;
  /** Refuses a snapshot a VM or snapshot sits on unless `force`; returns its UID. */
  removeSnapshot(query: string, options: { force: boolean }): Promise<string>;
  /**
   * Creates a clone of snapshot `query` from `manifest` (its image is the snapshot's; its name,
   * labels, network mode and ports are the manifest's), started with `options.start`.
   */
  cloneSnapshot(query: string, manifest: VM, options?: EngineCreateOptions): Promise<StoredVM>;
}
