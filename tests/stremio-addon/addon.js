// A real Stremio addon built with the official stremio-addon-sdk, for Sokoul's integration
// tests. It serves two addons on loopback ports chosen by the OS and prints their base URLs
// as one JSON line on stdout:
//
//   imdb: keys on IMDb ids (`tt…`), and must be configured: the configuration lives in the
//         path before manifest.json (`/{"token":"…"}/manifest.json`), as with real addons.
//   tmdb: keys on `tmdb:` ids, declared in a full resource object.
//
// Its streams point at ORIGIN, an HLS origin the Rust test runs, which answers 403 unless the
// request carries `Referer: REFERER`; the addon says so in `behaviorHints.proxyHeaders`.
// MEDIA_ORIGIN (optional, else ORIGIN) serves whole files (a Matroska film) with the same
// Referer rule: the addon lists them as `url` streams with `notWebReady`, as debrid addons do.
// Environment: ORIGIN, REFERER, TOKEN, MEDIA_ORIGIN. The process exits when its stdin closes (the test
// that started it has ended), so it never outlives the test.
'use strict'

const express = require('express')
const { addonBuilder, getRouter } = require('stremio-addon-sdk')

const ORIGIN = required('ORIGIN')
const REFERER = required('REFERER')
const TOKEN = required('TOKEN')
const MEDIA_ORIGIN = process.env.MEDIA_ORIGIN || ORIGIN

function required(name) {
  const value = process.env[name]
  if (!value) {
    console.error(`addon.js: ${name} is not set`)
    process.exit(2)
  }
  return value
}

const proxied = { notWebReady: true, proxyHeaders: { request: { Referer: REFERER } } }

function hls(path, name, description, extra = {}) {
  return {
    url: `${ORIGIN}${path}`,
    name,
    description,
    behaviorHints: { ...proxied, bingeGroup: 'sokoul-test', filename: 'master.m3u8' },
    ...extra,
  }
}

// What the IMDb addon has, by video id.
const imdbStreams = {
  tt0133093: [
    hls('/matrix/master.m3u8', 'Sokoul Test\n1080p', 'The.Matrix.1999.1080p.WEB\n💾 2.1 GB', {
      subtitles: [{ id: 'eng-1', url: `${ORIGIN}/matrix/en.vtt`, lang: 'eng' }],
    }),
    {
      url: `${ORIGIN}/matrix/720.mp4`,
      name: 'Sokoul Test\n720p',
      description: 'The.Matrix.1999.720p.mp4',
      behaviorHints: { ...proxied, filename: 'The.Matrix.1999.720p.mp4' },
    },
    { url: `${ORIGIN}/matrix/2160.mkv`, name: 'Sokoul Test\n4k', description: 'The.Matrix.1999.2160p.HEVC.mkv' },
    { ytId: 'vKQi3bBA1y8', name: 'Trailer' },
    { infoHash: '0123456789abcdef0123456789abcdef01234567', fileIdx: 0, name: 'Torrent\n1080p' },
    { externalUrl: 'https://www.example.com/watch/the-matrix', name: 'Elsewhere' },
    { name: 'An item with no source is invalid' },
  ],
  'tt0903747:1:2': [hls('/bb/s01e02/master.m3u8', 'Sokoul Test\n720p', "Breaking.Bad.S01E02.Cat's.in.the.Bag")],
}

// IMDb ids whose handler fails, so that the SDK answers 500 {"err":"handler error"}.
const failing = new Set(['tt0137523'])

const imdb = new addonBuilder({
  id: 'org.sokoul.test.imdb',
  version: '1.0.0',
  name: 'Sokoul Test (IMDb)',
  description: 'Test addon keyed on IMDb ids, needing configuration',
  resources: ['stream'],
  types: ['movie', 'series'],
  idPrefixes: ['tt'],
  catalogs: [],
  config: [{ key: 'token', type: 'text', title: 'Access token', required: true }],
  behaviorHints: { configurable: true, configurationRequired: true },
})
imdb.defineStreamHandler(async ({ type, id, config }) => {
  if (!config || config.token !== TOKEN) {
    throw new Error(`unconfigured request for ${type}/${id}`)
  }
  if (failing.has(id)) {
    throw new Error(`the handler fails for ${id}`)
  }
  return { streams: imdbStreams[id] || [], cacheMaxAge: 60 }
})

const tmdb = new addonBuilder({
  id: 'org.sokoul.test.tmdb',
  version: '1.0.0',
  name: 'Sokoul Test (TMDB)',
  description: 'Test addon keyed on tmdb: ids',
  resources: [{ name: 'stream', types: ['movie', 'series'], idPrefixes: ['tmdb:'] }],
  types: ['movie', 'series'],
  catalogs: [],
})
tmdb.defineStreamHandler(async ({ id }) => {
  switch (id) {
    case 'tmdb:603':
      return { streams: [hls('/matrix/master.m3u8', 'Sokoul TMDB\nHD', 'The Matrix (tmdb:603)')] }
    // An addon that moved a title elsewhere: the SDK turns this into a 307.
    case 'tmdb:604':
      return { redirect: '/stream/movie/tmdb%3A603.json' }
    // A film only the playback engine plays (Matroska, H.264 + AC-3), and one gone (404).
    case 'tmdb:550':
    case 'tmdb:551': {
      const file = id === 'tmdb:550' ? 'film.mkv' : 'gone.mkv'
      return {
        streams: [{
          url: `${MEDIA_ORIGIN}/films/${file}`,
          name: 'Sokoul TMDB\n1080p',
          description: 'Fight.Club.1999.1080p.BluRay.mkv',
          behaviorHints: { ...proxied, filename: 'Fight.Club.1999.1080p.BluRay.mkv' },
        }],
      }
    }
    case 'tmdb:1396:1:2':
      return { streams: [hls('/bb/s01e02/master.m3u8', 'Sokoul TMDB\n720p', 'Breaking Bad S01E02')] }
    default:
      return { streams: [] }
  }
})

function serve(addon) {
  const app = express()
  app.use(getRouter(addon.getInterface()))
  return new Promise((resolve, reject) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`))
    server.on('error', reject)
  })
}

Promise.all([serve(imdb), serve(tmdb)])
  .then(([imdbUrl, tmdbUrl]) => {
    process.stdout.write(JSON.stringify({ imdb: imdbUrl, tmdb: tmdbUrl }) + '\n')
  })
  .catch((err) => {
    console.error('addon.js:', err)
    process.exit(1)
  })

process.stdin.resume()
process.stdin.on('end', () => process.exit(0))
process.stdin.on('error', () => process.exit(0))
