/* songscape web app: DOM helpers shared by the panels' scripts (loaded before them). */
"use strict";

(() => {
  // make("button", {class: "pick", text: "Play", onclick: fn}, child, ...): an element with
  // its attributes ("text": its text; "on…": a listener) and children.
  function make(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    node.append(...children);
    return node;
  }
  window.songscapeDom = { make };
})();
