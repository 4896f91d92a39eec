/**
 * A node configuration file (containerd hosts.toml, registries.conf) that cannot be used: the message
 * names the file and, for TOML syntax, line:column.
 */
export class NodeConfigError extends Error {}
