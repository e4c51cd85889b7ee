// A plain `<video src>` that fails says only MEDIA_ERR_SRC_NOT_SUPPORTED, whether the file is
// in a codec the browser lacks or the server answered 403: asking the URL once tells them apart,
// so the viewer reads "accès refusé (HTTP 403)" rather than "codecs non pris en charge".

/** The HTTP status of `url` if it is an error (≥ 400); undefined when it answers or cannot be asked. */
export async function httpErrorStatus(url: string, fetchImpl: typeof fetch = fetch): Promise<number | undefined> {
	if (!url || url.startsWith('blob:')) return undefined;
	try {
		// One byte: the answer's status is all we need, not the film.
		const response = await fetchImpl(url, { headers: { Range: 'bytes=0-0' }, credentials: 'same-origin' });
		void response.body?.cancel().catch(() => undefined);
		return response.status >= 400 ? response.status : undefined;
	} catch {
		// Cross-origin without CORS, or offline: the status is unknown.
		return undefined;
	}
}
