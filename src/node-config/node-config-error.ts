/** A node configuration file (containerd's hosts directory, registries.conf) that cannot be used as written. */
export class NodeConfigError extends Error {}
