// Every error and outcome code the server can send has a message in both catalogues: the codes
// are read from the Rust source itself (module errors' `fn code`, `ApiError`/`ProviderError`/
// `LibraryError` constructors, `(StatusCode, "code")` conversions), so a new server code without
// a translation fails here, before a viewer reads its English `message`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { en } from './en';
import { fr } from './fr';

// vitest runs in dashboard/ (jsdom gives import.meta.url an http scheme): the server is next to it.
const SERVER_SRC = resolve(process.cwd(), '../src');
const CODE = '([a-z][a-z0-9_]*)';

function rustFiles(dir: string): string[] {
	return readdirSync(dir).flatMap((name) => {
		const path = join(dir, name);
		if (statSync(path).isDirectory()) return rustFiles(path);
		return path.endsWith('.rs') ? [path] : [];
	});
}

/** The codes one Rust file emits, its `#[cfg(test)]` module left out. */
function codesIn(source: string): string[] {
	const cut = source.indexOf('#[cfg(test)]');
	const code = cut >= 0 ? source.slice(0, cut) : source;
	const constants = new Map(
		[...code.matchAll(new RegExp(`const ([A-Z_]+): &str = "${CODE}";`, 'g'))].map((m) => [m[1], m[2]])
	);
	const found: string[] = [];
	const patterns = [
		new RegExp(`\\bcode:\\s*"${CODE}"`, 'g'),
		new RegExp(`\\b(?:ApiError|ProviderError|LibraryError)::[a-z_]+\\(\\s*(?:StatusCode::\\w+,\\s*)?"${CODE}"`, 'g'),
		new RegExp(`\\(\\s*StatusCode::\\w+,\\s*"${CODE}"\\s*\\)`, 'g')
	];
	for (const pattern of patterns) for (const m of code.matchAll(pattern)) found.push(m[1]);
	// Every literal of a module error's `fn code`, and of a `let code = if …` choice.
	const bodies = [
		...code.matchAll(/fn code\(&?self\)\s*->\s*&'static str\s*\{([\s\S]*?)\n {4}\}/g),
		...code.matchAll(/let code = (if[\s\S]*?);\n/g)
	];
	for (const body of bodies) for (const m of body[1].matchAll(new RegExp(`"${CODE}"`, 'g'))) found.push(m[1]);
	// A code named by a constant of this or another module (`breaker::CIRCUIT_OPEN`).
	for (const m of code.matchAll(/ProviderError::[a-z_]+\(\s*(?:\w+::)*([A-Z_]+)\b/g)) {
		const value = constants.get(m[1]) ?? CONSTANTS.get(m[1]);
		if (value) found.push(value);
	}
	return found;
}

const files = rustFiles(SERVER_SRC).map((path) => readFileSync(path, 'utf8'));
const CONSTANTS = new Map(
	files.flatMap((s) => [...s.matchAll(new RegExp(`pub const ([A-Z_]+): &str = "${CODE}";`, 'g'))].map((m) => [m[1], m[2]]))
);
const serverCodes = [...new Set(files.flatMap(codesIn))].sort();

describe('server codes', () => {
	it('are found in the server’s source (the extraction itself works)', () => {
		expect(serverCodes.length).toBeGreaterThan(100);
		for (const known of ['invalid_tmdb_id', 'upstream_forbidden', 'not_in_library', 'provider_circuit_open', 'invalid_body']) {
			expect(serverCodes).toContain(known);
		}
	});

	it('each have a message in French and in English', () => {
		const key = (code: string) => `code.${code}`;
		expect(serverCodes.filter((c) => !(key(c) in fr))).toEqual([]);
		expect(serverCodes.filter((c) => !(key(c) in en))).toEqual([]);
	});

	it('leave no translation for a code nobody sends', () => {
		const catalogued = Object.keys(fr)
			.filter((k) => k.startsWith('code.'))
			.map((k) => k.slice('code.'.length));
		const known = new Set(serverCodes);
		expect(catalogued.filter((c) => !known.has(c))).toEqual([]);
	});
});
