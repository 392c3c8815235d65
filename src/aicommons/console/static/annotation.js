/* The annotation task page: keys pick labels (1-9, 0), Enter submits, S skips; spans come from a
   selection in the text, boxes from a drag on the image. Everything ends in the page's plain HTML
   form, which the server checks: this script only fills it in faster. */
(function () {
  "use strict";

  const form = document.getElementById("answer-form");
  if (!form) return;
  const kind = form.dataset.kind;
  const started = performance.now();
  const skipButton = document.querySelector(".skip-form button");
  const removeText = (document.getElementById("remove-text") || {}).innerHTML || "Remove";
  let submitting = false;

  form.addEventListener("submit", function (event) {
    if (submitting) {
      event.preventDefault();  // one answer per task, however fast the keys come
      return;
    }
    submitting = true;
    form.elements.seconds.value = ((performance.now() - started) / 1000).toFixed(2);
  });

  function submit() {
    if (!submitting) form.requestSubmit();
  }

  function keyed(key) {
    return form.querySelector('[data-key="' + CSS.escape(key) + '"]');
  }

  /* Keys typed into a real input (the box corners) are the user's, not shortcuts. */
  function typing(target) {
    if (target instanceof HTMLTextAreaElement) return !("selectOnly" in target.dataset);
    return (target instanceof HTMLInputElement && !["checkbox", "radio", "button", "submit"].includes(target.type))
      || target instanceof HTMLSelectElement || (target instanceof HTMLElement && target.isContentEditable);
  }

  // --- spans and boxes: the list of parts, kept in hidden inputs named "span" or "box" ---------

  const partsList = document.getElementById("parts");
  const field = partsList ? partsList.dataset.field : null;
  const labelButtons = Array.from(form.querySelectorAll(".labels button[data-label]"));
  const colorOf = {};
  labelButtons.forEach(function (b) { colorOf[b.dataset.label] = b.dataset.color; });
  let parts = [];
  let onChange = function () {};

  if (partsList) {
    partsList.querySelectorAll("input").forEach(function (input) {
      try { parts.push(JSON.parse(input.value)); } catch (e) { parts.push(input.value); }
    });
  }

  function describe(part) {
    if (!Array.isArray(part)) return String(part);
    if (field === "span") {
      const text = Array.from(spanText.value).slice(part[0], part[1]).join("");
      return "\u201c" + text + "\u201d " + part[2];
    }
    return part[4] + " (" + part[0] + ", " + part[1] + ")\u2013(" + part[2] + ", " + part[3] + ")";
  }

  function renderParts() {
    partsList.replaceChildren();
    parts.forEach(function (part, index) {
      const item = document.createElement("li");
      const color = Array.isArray(part) ? colorOf[part[field === "span" ? 2 : 4]] : undefined;
      if (color !== undefined) item.className = "c" + color;
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = field;
      input.value = typeof part === "string" ? part : JSON.stringify(part);
      const text = document.createElement("span");
      text.textContent = describe(part);
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "small secondary";
      remove.textContent = removeText;
      remove.setAttribute("aria-label", removeText + ": " + describe(part));
      remove.addEventListener("click", function () {
        parts.splice(index, 1);
        renderParts();
        const next = partsList.querySelectorAll("button")[Math.min(index, parts.length - 1)];
        (next || form.querySelector(".submit")).focus();
      });
      item.append(input, text, " ", remove);
      partsList.append(item);
    });
    document.getElementById("parts-empty").hidden = parts.length > 0;
    onChange();
  }

  // --- spans: offsets count Unicode characters, as the server does ------------------------------

  const spanText = document.getElementById("span-text");
  const backdrop = document.querySelector(".span-backdrop");

  function characters(upTo) {
    return Array.from(spanText.value.slice(0, upTo)).length;
  }

  function addSpan(label) {
    const characterList = Array.from(spanText.value);
    let start = characters(spanText.selectionStart);
    let end = characters(spanText.selectionEnd);
    while (start < end && /\s/.test(characterList[start])) start++;  // a span never starts or ends in blank space
    while (end > start && /\s/.test(characterList[end - 1])) end--;
    if (start >= end) return false;
    if (!parts.some(function (p) { return p[0] === start && p[1] === end && p[2] === label; })) {
      parts.push([start, end, label]);
      parts.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    }
    spanText.setSelectionRange(spanText.selectionEnd, spanText.selectionEnd);
    renderParts();
    return true;
  }

  function paintSpans() {
    const characterList = Array.from(spanText.value);
    const cover = characterList.map(function () { return null; });
    parts.forEach(function (part) {
      if (!Array.isArray(part)) return;
      for (let i = part[0]; i < Math.min(part[1], cover.length); i++) cover[i] = colorOf[part[2]];
    });
    backdrop.replaceChildren();
    let i = 0;
    while (i < characterList.length) {
      let j = i;
      while (j < characterList.length && cover[j] === cover[i]) j++;
      const text = characterList.slice(i, j).join("");
      if (cover[i] === null || cover[i] === undefined) {
        backdrop.append(text);
      } else {
        const mark = document.createElement("mark");
        mark.className = "c" + cover[i];
        mark.textContent = text;
        backdrop.append(mark);
      }
      i = j;
    }
    backdrop.append("\n");
    spanText.style.height = "auto";
    spanText.style.height = spanText.scrollHeight + "px";
  }

  if (spanText) {
    onChange = paintSpans;
    // The text is there to select, never to change (see task.html for why it is not read-only).
    const original = spanText.value;
    spanText.addEventListener("beforeinput", function (event) { event.preventDefault(); });
    spanText.addEventListener("input", function () { spanText.value = original; });
    labelButtons.forEach(function (button) {
      button.addEventListener("mousedown", function (event) { event.preventDefault(); });  // keep the text selected
      button.addEventListener("click", function () { addSpan(button.dataset.label); });
    });
    window.addEventListener("resize", paintSpans);
  }

  // --- boxes: drawn by dragging, in the image's own pixels ---------------------------------------

  const stage = document.getElementById("box-stage");
  const image = document.getElementById("box-image");
  let currentLabel = labelButtons.length ? labelButtons[0].dataset.label : null;
  let selected = null;  // the box just drawn: a label key relabels it

  function imageSize() {
    const width = Number(stage.dataset.width) || image.naturalWidth;
    const height = Number(stage.dataset.height) || image.naturalHeight;
    return [width, height];
  }

  function toImage(event) {
    const rect = image.getBoundingClientRect();
    const [width, height] = imageSize();
    const x = (event.clientX - rect.left) * width / rect.width;
    const y = (event.clientY - rect.top) * height / rect.height;
    return [Math.min(width, Math.max(0, x)), Math.min(height, Math.max(0, y))];
  }

  function placed(element, box) {
    const [width, height] = imageSize();
    element.style.left = (100 * box[0] / width) + "%";
    element.style.top = (100 * box[1] / height) + "%";
    element.style.width = (100 * (box[2] - box[0]) / width) + "%";
    element.style.height = (100 * (box[3] - box[1]) / height) + "%";
    return element;
  }

  function paintBoxes() {
    const layer = stage.querySelector(".box-layer");
    layer.replaceChildren();
    if (!imageSize()[0]) return;
    parts.forEach(function (part, index) {
      if (!Array.isArray(part)) return;
      const element = placed(document.createElement("div"), part);
      element.className = "box c" + (colorOf[part[4]] || 0) + (index === selected ? " selected" : "");
      const tag = document.createElement("span");
      tag.textContent = part[4];
      element.append(tag);
      layer.append(element);
    });
  }

  function chooseLabel(label) {
    currentLabel = label;
    labelButtons.forEach(function (b) { b.setAttribute("aria-pressed", String(b.dataset.label === label)); });
    if (selected !== null && Array.isArray(parts[selected])) {
      parts[selected][4] = label;
      renderParts();
    }
  }

  function addBox(box) {
    parts.push(box.concat([currentLabel]));
    selected = parts.length - 1;
    renderParts();
  }

  if (stage) {
    onChange = paintBoxes;
    image.addEventListener("load", paintBoxes);
    labelButtons.forEach(function (button) {
      button.addEventListener("click", function () { chooseLabel(button.dataset.label); });
    });
    chooseLabel(currentLabel);
    let origin = null;
    let draft = null;
    stage.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) return;
      event.preventDefault();
      stage.setPointerCapture(event.pointerId);
      origin = toImage(event);
      draft = document.createElement("div");
      draft.className = "box draft";
      stage.querySelector(".box-layer").append(draft);
    });
    stage.addEventListener("pointermove", function (event) {
      if (!origin) return;
      const point = toImage(event);
      placed(draft, [Math.min(origin[0], point[0]), Math.min(origin[1], point[1]), Math.max(origin[0], point[0]), Math.max(origin[1], point[1])]);
    });
    function finish(event) {
      if (!origin) return;
      const point = toImage(event);
      const box = [
        Math.round(Math.min(origin[0], point[0])), Math.round(Math.min(origin[1], point[1])),
        Math.round(Math.max(origin[0], point[0])), Math.round(Math.max(origin[1], point[1])),
      ];
      origin = null;
      draft.remove();
      if (box[0] < box[2] && box[1] < box[3]) addBox(box);  // a click, not a drag, draws nothing
    }
    stage.addEventListener("pointerup", finish);
    stage.addEventListener("pointercancel", function () { origin = null; if (draft) draft.remove(); });

    const corners = Array.from(form.querySelectorAll("[data-corner]"));
    function addTypedBox() {
      const box = corners.map(function (input) { return Number(input.value); });
      if (corners.some(function (input) { return input.value === ""; })) {
        corners.find(function (input) { return input.value === ""; }).focus();
        return;
      }
      addBox(box);  // the server checks it lies inside the image
      corners.forEach(function (input) { input.value = ""; });
      corners[0].focus();
    }
    document.getElementById("add-box").addEventListener("click", addTypedBox);
    corners.forEach(function (input) {
      input.addEventListener("keydown", function (event) {
        if (event.key === "Enter") {
          event.preventDefault();
          addTypedBox();
        }
      });
    });
  }

  if (partsList) renderParts();

  // --- the keyboard --------------------------------------------------------------------------------

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing || typing(event.target)) return;
    const key = event.key;
    if (key === "Enter") {
      if (kind === "single" || event.target instanceof HTMLButtonElement || event.target instanceof HTMLAnchorElement
          || (event.target instanceof HTMLElement && event.target.tagName === "SUMMARY")) return;
      event.preventDefault();
      submit();
      return;
    }
    if ((key === "s" || key === "S") && skipButton) {
      event.preventDefault();
      if (!submitting) skipButton.click();
      return;
    }
    const target = keyed(key);
    if (!target) return;
    event.preventDefault();
    if (kind === "single") {
      if (!submitting) target.click();
    } else if (kind === "multi") {
      target.checked = !target.checked;
    } else if (kind === "spans") {
      addSpan(target.dataset.label);
    } else {
      chooseLabel(target.dataset.label);
    }
  });

  form.dataset.ready = "true";
})();
