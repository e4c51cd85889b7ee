// After `vite build`: bundles src/early.ts (the watch page's early resolve, see
// src/lib/early-resolve.ts) into one small script and inlines it in build/index.html where
// app.html marks it, so that it runs as the HTML is parsed, before any of the app's modules is
// fetched. Inline, not a file: a script file would be one more request before the resolve.
// The server allows it by its SHA-256 in the Content-Security-Policy, computed from the
// index.html it serves (src/security/headers.rs). rolldown is the bundler Vite itself uses.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const root = fileURLToPath(new URL('..', import.meta.url));
const page = `${root}build/index.html`;
const MARKER = '<!-- sokoul:early-resolve -->';

const html = readFileSync(page, 'utf8');
if (!html.includes(MARKER)) throw new Error(`inline-early: ${page} has no ${MARKER}`);

// What the watch page and hls.js load, from Vite's manifest of the client build: each entry's
// file, style sheets and static imports, minus what index.html already preloads.
const manifest = JSON.parse(readFileSync(`${root}.svelte-kit/output/client/.vite/manifest.json`, 'utf8'));
function files(keys) {
	const out = new Set();
	const seen = new Set();
	const visit = (key) => {
		if (seen.has(key)) return;
		seen.add(key);
		const entry = manifest[key];
		if (!entry) throw new Error(`inline-early: ${key} is not in Vite's manifest`);
		out.add(`/${entry.file}`);
		for (const css of entry.css ?? []) out.add(`/${css}`);
		for (const imported of entry.imports ?? []) visit(imported);
	};
	keys.forEach(visit);
	return [...out].filter((href) => !html.includes(`"${href}"`));
}
// SvelteKit numbers its route nodes; the watch page's is the one that imports its +page.svelte.
const nodes = `${root}.svelte-kit/generated/client-optimized/nodes`;
const nodeOf = (route) =>
	readdirSync(nodes)
		.filter((name) => readFileSync(`${nodes}/${name}`, 'utf8').includes(`src/routes/${route}"`))
		.map((name) => `.svelte-kit/generated/client-optimized/nodes/${name}`);
const watch = nodeOf('watch/[media_type]/[tmdb_id]/+page.svelte');
const error = nodeOf('+error.svelte');
if (watch.length !== 1 || error.length !== 1) throw new Error('inline-early: watch or error node not found');
const assets = {
	// The root error page's node is loaded with every page's.
	watch: files([...error, ...watch]),
	hls: files(['src/lib/player/create-hls.ts', 'node_modules/hls.js/dist/hls.worker.js'])
};

const result = await build({
	input: `${root}src/early.ts`,
	resolve: { alias: { $lib: `${root}src/lib` } },
	transform: { define: { __SOKOUL_EARLY_ASSETS__: JSON.stringify(assets) } },
	write: false,
	output: { format: 'iife', minify: true }
});
const code = result.output[0].code.trim();
// An inline script ends at the first `</script`, whatever the JavaScript around it says.
if (code.includes('</script')) throw new Error('inline-early: the bundle contains </script');

writeFileSync(page, html.replace(MARKER, `<script>${code}</script>`));
console.log(
	`inline-early: ${code.length} bytes inlined into build/index.html; ` +
		`preloads ${assets.watch.length} files for the watch page, ${assets.hls.length} for hls.js`
);
