// The dashboard is a client-only SPA served by the Rust server: no SSR, no prerendering.
export const ssr = false;
export const prerender = false;
