// An event's clip as an inline, muted, looping video (through a short-lived signed
// link: a <video> cannot send an Authorization header).
import { showMedia } from "./api.js";
import { h } from "./ui.js";

export function clipVideo(ev) {
  const video = h("video", {
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
  return showMedia(video, ev.clip_url);
}
