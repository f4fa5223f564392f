/** What `ignite version` reports. */
export interface VersionInfo {
  version: string;
  gitCommit: string;
  buildDate: string;
  nodeVersion: string;
  platform: string;
}

export interface BuildInfo {
  version: string;
  gitCommit: string;
  buildDate: string;
}

export function getVersion(build: BuildInfo): VersionInfo {
  return {
    ...build,
    nodeVersion: process.version,
    platform: `${process.platform}/${process.arch}`,
  };
}
