// An event's clip as an inline, muted, looping video (the token rides in the URL:
// a <video> cannot send an Authorization header).
import { withToken } from "./api.js";
import { h } from "./ui.js";

export function clipVideo(ev) {
  const video = h("video", {
    src: withToken(ev.clip_url),
    muted: true,
    autoplay: true,
    loop: true,
    playsinline: true,
    controls: true,
    preload: "auto",
    "aria-label": `Clip of event ${ev.event_id}`,
  });
  // The attribute alone does not mute in every browser; autoplay needs muted.
  video.muted = true;
  return video;
}
