// The JSON examples of docs/cti-protocol.md, by the name in their `<!-- example: NAME -->`
// marker, so unit tests apply exactly what the protocol reference shows.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

// Vitest runs in ui/ (npm test).
const doc = readFileSync(resolve(process.cwd(), '../docs/cti-protocol.md'), 'utf8');

const examples = new Map<string, unknown>();
for (const m of doc.matchAll(/<!-- example: (\w+) -->\s*```json\n([\s\S]*?)```/g)) {
  examples.set(m[1]!, JSON.parse(m[2]!));
}

/** The example named `name`, parsed (a fresh copy each call). */
export function example<T = unknown>(name: string): T {
  if (!examples.has(name)) throw new Error(`no example ${name} in docs/cti-protocol.md`);
  return structuredClone(examples.get(name)) as T;
}

export function exampleNames(): string[] {
  return [...examples.keys()];
}
