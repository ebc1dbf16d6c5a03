// Signed media links, shared by the operator console and the worker terminal.
// <img> and <video> cannot send the Authorization header, and a bearer token in
// a URL leaks into logs and history, so each page asks central (with its header)
// for a short-lived link per media path. A link is reused while it has at least
// LINK_MARGIN_MS left and while the same login (`owner`) is in use.

const LINK_MARGIN_MS = 60_000;

/**
 * Media link helpers bound to one page's API call.
 * @param {(path: string) => Promise<{url: string, expires_in_s: number}>} askLink
 *   POSTs `<media path>/link` (path relative to /api/v1) with the page's bearer.
 * @param {string} apiPrefix the API prefix to strip from absolute media paths.
 * @param {() => unknown} owner who is logged in; a change makes links be re-asked.
 */
export function createMediaLinks(askLink, apiPrefix, owner = () => null) {
  const links = new Map(); // media path → { url: Promise<string>, until: ms, owner }

  /** A signed URL (Promise) for a media path such as `/api/v1/media/<sha256>`. */
  function mediaLink(path) {
    const who = owner();
    const cached = links.get(path);
    if (cached && cached.owner === who && cached.until - Date.now() > LINK_MARGIN_MS) {
      return cached.url;
    }
    const entry = { until: Infinity, url: null, owner: who };
    const asked = Date.now();
    const relative = path.startsWith(apiPrefix) ? path.slice(apiPrefix.length) : path;
    entry.url = askLink(`${relative}/link`).then(
      (link) => {
        entry.until = asked + link.expires_in_s * 1000;
        return link.url;
      },
      (error) => {
        if (links.get(path) === entry) links.delete(path);
        throw error;
      },
    );
    links.set(path, entry);
    return entry.url;
  }

  /** What stands in for media that central answers 410 for (expired). */
  function expiredNote() {
    const note = document.createElement("div");
    note.className = "media-missing media-expired";
    note.textContent = "Media expired";
    note.title = "Deleted after its retention period";
    return note;
  }

  /** Point an <img> or <video> at a media path through a signed link. A load
   * that fails (a link that expired while the element waited, say a lazy image
   * scrolled to late or a paused clip seeked) is retried once with a fresh link
   * before the element's own `error` handlers hear of it; a link that cannot be
   * had fires `error` at once, one that has expired (410) is replaced by a
   * "Media expired" note. A lazy <img> asks for its link once it nears the
   * viewport. Returns the element. */
  function showMedia(element, path) {
    let retried = false;
    const point = () =>
      mediaLink(path).then(
        (url) => {
          element.src = url;
          if (element.autoplay) element.play?.().catch(() => {});
        },
        (error) => {
          retried = true;
          if (error?.status === 410) {
            // Deleted by central's retention: say so instead of a broken image.
            element.replaceWith(expiredNote());
            return;
          }
          element.dispatchEvent(new Event("error"));
        },
      );
    element.addEventListener(
      "error",
      (event) => {
        if (retried) return;
        retried = true;
        event.stopImmediatePropagation();
        links.delete(path);
        point();
      },
      { capture: true },
    );
    if (element.loading === "lazy" && "IntersectionObserver" in window) {
      // A lazy image asks for its link only when it is about to be seen: a long
      // review list costs no link requests for rows nobody scrolls to.
      const observer = new IntersectionObserver(
        (entries) => {
          if (!entries.some((entry) => entry.isIntersecting)) return;
          observer.disconnect();
          point();
        },
        { rootMargin: "300px" },
      );
      observer.observe(element);
    } else {
      point();
    }
    return element;
  }

  return { mediaLink, showMedia, forget: () => links.clear() };
}
