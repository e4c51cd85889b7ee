// A real Stremio addon built with the official stremio-addon-sdk, for Sokoul's integration
// tests. It serves two addons on loopback ports chosen by the OS and prints their base URLs
// as one JSON line on stdout:
//
//   imdb: keys on IMDb ids (`tt…`), and must be configured: the configuration lives in the
//         path before manifest.json (`/{"token":"…"}/manifest.json`), as with real addons.
//   tmdb: keys on `tmdb:` ids, declared in a full resource object.
//   subs: serves only `subtitles` (as OpenSubtitles v3 does: the short resource form), for `tt`
//         and `tmdb:` ids: a French SRT in Windows-1252 and an English one in UTF-8, which its
//         own server hosts under /files/. It keeps every request's id and extra (videoHash,
//         videoSize, filename), which GET /requests.json returns; its handler fails for
//         `tmdb:1396:1:2`, so that a failing subtitle addon can be tested.
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

// Subtitle files as addons serve them: an SRT from an old French release in Windows-1252
// (one byte a character; `œ` is 0x9C and `€` 0x80, which Latin-1 lacks), and a UTF-8 one.
const FRENCH_SRT =
  "1\r\n00:00:00,000 --> 00:00:30,000\r\nÇa démarre à l'été\r\nUne œuvre à 5 €\r\n\r\n" +
  '2\r\n00:00:30,000 --> 00:01:00,000\r\nDéjà fini\r\n'
const ENGLISH_SRT = '1\n00:00:00,000 --> 00:01:00,000\nA naïve café in Zürich\n'
const CP1252 = { '€': 0x80, 'œ': 0x9c, 'Œ': 0x8c }

function windows1252(text) {
  return Buffer.from(
    [...text].map((c) => {
      const code = CP1252[c] ?? c.codePointAt(0)
      if (code > 0xff) throw new Error(`${c} is not in Windows-1252`)
      return code
    }),
  )
}

const subtitleRequests = []
let subsBase = null // this addon's own URL, known once it listens

const subs = new addonBuilder({
  id: 'org.sokoul.test.subs',
  version: '1.0.0',
  name: 'Sokoul Test Subtitles',
  description: 'Test addon serving subtitles only, as OpenSubtitles v3 does',
  resources: ['subtitles'],
  types: ['movie', 'series'],
  idPrefixes: ['tt', 'tmdb:'],
  catalogs: [],
})
subs.defineSubtitlesHandler(async ({ type, id, extra }) => {
  subtitleRequests.push({ type, id, extra })
  if (id === 'tmdb:1396:1:2') {
    throw new Error(`the subtitle handler fails for ${id}`)
  }
  return {
    subtitles: [
      { id: 'fr-1', url: `${subsBase}/files/fr.srt`, lang: 'fre' },
      { id: 'en-1', url: `${subsBase}/files/en.srt`, lang: 'eng' },
    ],
  }
})

function subsFiles(app) {
  app.get('/files/fr.srt', (req, res) => res.type('application/x-subrip').send(windows1252(FRENCH_SRT)))
  app.get('/files/en.srt', (req, res) => res.type('application/x-subrip').send(Buffer.from(ENGLISH_SRT, 'utf8')))
  app.get('/requests.json', (req, res) => res.json(subtitleRequests))
}

function serve(addon, extra) {
  const app = express()
  if (extra) extra(app)
  app.use(getRouter(addon.getInterface()))
  return new Promise((resolve, reject) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`))
    server.on('error', reject)
  })
}

Promise.all([serve(imdb), serve(tmdb), serve(subs, subsFiles)])
  .then(([imdbUrl, tmdbUrl, subsUrl]) => {
    subsBase = subsUrl
    process.stdout.write(JSON.stringify({ imdb: imdbUrl, tmdb: tmdbUrl, subs: subsUrl }) + '\n')
  })
  .catch((err) => {
    console.error('addon.js:', err)
    process.exit(1)
  })

process.stdin.resume()
process.stdin.on('end', () => process.exit(0))
process.stdin.on('error', () => process.exit(0))
