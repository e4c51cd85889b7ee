// After `vite build`: bundles src/early.ts (the watch page's early resolve, see
// src/lib/early-resolve.ts) into one small script and inlines it in build/index.html where
// app.html marks it, so that it runs as the HTML is parsed, before any of the app's modules is
// fetched. Inline, not a file: a script file would be one more request before the resolve.
// The server allows it by its SHA-256 in the Content-Security-Policy, computed from the
// index.html it serves (src/security/headers.rs). rolldown is the bundler Vite itself uses.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const root = fileURLToPath(new URL('..', import.meta.url));
const page = `${root}build/index.html`;
const MARKER = '<!-- sokoul:early-resolve -->';

// What the player imports for an HLS source (create-hls and hls.js, one chunk today), from the
// client build's manifest: the early script preloads them when the first source is HLS.
const MANIFEST = `${root}.svelte-kit/output/client/.vite/manifest.json`;
const HLS_ENTRY = 'src/lib/player/create-hls.ts';
const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8'));
if (!manifest[HLS_ENTRY]) throw new Error(`inline-early: ${MANIFEST} has no ${HLS_ENTRY}`);
const hlsModules = [];
const visit = (key) => {
	const chunk = manifest[key];
	const url = `/${chunk.file}`;
	if (hlsModules.includes(url)) return;
	hlsModules.push(url);
	for (const imported of chunk.imports ?? []) visit(imported);
};
visit(HLS_ENTRY);

const result = await build({
	input: `${root}src/early.ts`,
	resolve: { alias: { $lib: `${root}src/lib` } },
	transform: { define: { __SOKOUL_HLS_MODULES__: JSON.stringify(hlsModules) } },
	write: false,
	output: { format: 'iife', minify: true }
});
const code = result.output[0].code.trim();
// An inline script ends at the first `</script`, whatever the JavaScript around it says.
if (code.includes('</script')) throw new Error('inline-early: the bundle contains </script');

const html = readFileSync(page, 'utf8');
if (!html.includes(MARKER)) throw new Error(`inline-early: ${page} has no ${MARKER}`);
writeFileSync(page, html.replace(MARKER, `<script>${code}</script>`));
console.log(`inline-early: ${code.length} bytes inlined into build/index.html (HLS modules: ${hlsModules.join(', ')})`);
