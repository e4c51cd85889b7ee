// Where the picture is inside the <video> element, so that what the player draws over it (the
// subtitles) sits on the picture rather than on the black bars: a portrait phone video in a
// landscape window is a narrow column, a film on a phone held upright a band across the middle.

export interface Size {
	width: number;
	height: number;
}

export interface Rect extends Size {
	left: number;
	top: number;
}

/**
 * The rectangle `object-fit: contain` draws a `picture`-sized frame in, inside a `box`; the whole
 * box while the picture's size is unknown (no metadata yet, or an element with no size).
 */
export function pictureRect(box: Size, picture: Size): Rect {
	const whole = { left: 0, top: 0, width: box.width, height: box.height };
	if (!(picture.width > 0 && picture.height > 0 && box.width > 0 && box.height > 0)) return whole;
	const scale = Math.min(box.width / picture.width, box.height / picture.height);
	const width = picture.width * scale;
	const height = picture.height * scale;
	return { left: (box.width - width) / 2, top: (box.height - height) / 2, width, height };
}

/** Follows the picture's rectangle in `video` as the element resizes or a new source starts. */
export function watchPicture(video: HTMLVideoElement, onChange: (rect: Rect) => void): () => void {
	const update = () =>
		onChange(
			pictureRect(
				{ width: video.clientWidth, height: video.clientHeight },
				{ width: video.videoWidth, height: video.videoHeight }
			)
		);
	// (jsdom, in unit tests, has no ResizeObserver.)
	const observer = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(update);
	observer?.observe(video);
	// `resize` fires when the intrinsic size changes (a new source, a rendition of another shape).
	for (const type of ['loadedmetadata', 'resize', 'emptied']) video.addEventListener(type, update);
	update();
	return () => {
		observer?.disconnect();
		for (const type of ['loadedmetadata', 'resize', 'emptied']) video.removeEventListener(type, update);
	};
}
