// Types of node-version.js (plain JavaScript, so that it runs before anything else).
export function parseVersion(text: string): [number, number, number] | undefined
export function nodeVersionProblem(found: string, range: string): string | undefined
export function exitOnUnsupportedNode(): void
