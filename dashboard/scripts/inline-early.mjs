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

// From the client build's manifest: what the watch page loads (its route's node and the root
// error page's, which the router loads with it, with every module they import and their
// stylesheets), asked by the early script at once; and what the player imports for an HLS source
// (create-hls and hls.js, one chunk today), preloaded once the first source is known to be HLS.
const MANIFEST = `${root}.svelte-kit/output/client/.vite/manifest.json`;
const NODES = `${root}.svelte-kit/generated/client-optimized/nodes`;
const HLS_ENTRY = 'src/lib/player/create-hls.ts';
const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8'));
if (!manifest[HLS_ENTRY]) throw new Error(`inline-early: ${MANIFEST} has no ${HLS_ENTRY}`);
const html = readFileSync(page, 'utf8');
if (!html.includes(MARKER)) throw new Error(`inline-early: ${page} has no ${MARKER}`);

/** The manifest key of the route node whose source mentions `component` (SvelteKit's generated nodes). */
function nodeOf(component) {
	const file = readdirSync(NODES).find((f) => readFileSync(`${NODES}/${f}`, 'utf8').includes(component));
	const key = file && `.svelte-kit/generated/client-optimized/nodes/${file}`;
	if (!key || !manifest[key]) throw new Error(`inline-early: no route node for ${component} in ${NODES}`);
	return key;
}

/** The chunk `key` and what it imports statically, as URLs; `styles` gets their stylesheets. */
function closure(keys, styles = []) {
	const modules = [];
	const visit = (key) => {
		const chunk = manifest[key];
		const url = `/${chunk.file}`;
		if (modules.includes(url)) return;
		modules.push(url);
		for (const css of chunk.css ?? []) if (!styles.includes(`/${css}`)) styles.push(`/${css}`);
		for (const imported of chunk.imports ?? []) visit(imported);
	};
	keys.forEach(visit);
	return modules;
}

const hlsModules = closure([HLS_ENTRY]);
const pageStyles = [];
// What index.html already preloads (the entry, the root layout) is left out: asked twice, it
// would only be found in the cache.
const inPage = (url) => html.includes(`"${url}"`) || html.includes(`"${url.slice(1)}"`);
const pageModules = closure(
	[nodeOf('src/routes/watch/[media_type]/[tmdb_id]/+page.svelte'), nodeOf('src/routes/+error.svelte')],
	pageStyles
).filter((url) => !inPage(url));
const watchAssets = { pageModules, pageStyles: pageStyles.filter((url) => !inPage(url)), playerModules: hlsModules };

const result = await build({
	input: `${root}src/early.ts`,
	resolve: { alias: { $lib: `${root}src/lib` } },
	transform: { define: { __SOKOUL_WATCH_ASSETS__: JSON.stringify(watchAssets) } },
	write: false,
	output: { format: 'iife', minify: true }
});
const code = result.output[0].code.trim();
// An inline script ends at the first `</script`, whatever the JavaScript around it says.
if (code.includes('</script')) throw new Error('inline-early: the bundle contains </script');

writeFileSync(page, html.replace(MARKER, `<script>${code}</script>`));
console.log(
	`inline-early: ${code.length} bytes inlined into build/index.html (watch page: ${pageModules.length} modules, ${watchAssets.pageStyles.length} stylesheets; HLS: ${hlsModules.join(', ')})`
);
