// City Brain's replay: a range slider (arrow keys, Home and End step it natively) and a play button
// recolour the road map's intersections by their queue at each sampled moment of the run. The
// page is drawn by the server at one moment, so without this script it still reads (and the
// slider's form asks the server for another moment).
(function () {
  "use strict";

  function colourOf(data, queue) {
    if (queue === undefined || queue === null) return data.no_data_colour;
    var colour = data.bands[0][1];
    data.bands.forEach(function (band) { if (queue >= band[0]) colour = band[1]; });
    return colour;
  }

  function setUp(root) {
    if (root.dataset.replayReady) return;
    root.dataset.replayReady = "yes";
    var data = JSON.parse(root.querySelector("script.replay-data").textContent);
    var slider = root.querySelector("input[type=range]");
    var clock = root.querySelector("output");
    var play = root.querySelector("button.play");
    var circles = root.querySelectorAll("circle[data-intersection]");
    var timer = null;

    function show(index) {
      var time = data.times[index];
      clock.textContent = time;
      slider.setAttribute("aria-valuetext", time);
      circles.forEach(function (circle) {
        var id = circle.getAttribute("data-intersection");
        var counts = data.queues[id];
        var queue = counts ? counts[index] : undefined;
        circle.setAttribute("fill", colourOf(data, queue));
        var title = circle.querySelector("title");
        if (title) {
          var template = queue === undefined ? data.no_data : data.title;
          title.textContent = template.replace("{id}", id).replace("{count}", String(queue));
        }
      });
    }

    function stop() {
      if (timer !== null) window.clearInterval(timer);
      timer = null;
      play.textContent = play.dataset.play;
      play.setAttribute("aria-pressed", "false");
    }

    function step() {
      var next = Number(slider.value) + 1;
      if (next > Number(slider.max)) { stop(); return; }
      slider.value = String(next);
      show(next);
    }

    slider.addEventListener("input", function () { show(Number(slider.value)); });
    play.hidden = false;
    play.addEventListener("click", function () {
      if (timer !== null) { stop(); return; }
      if (Number(slider.value) >= Number(slider.max)) { slider.value = "0"; show(0); }
      play.textContent = play.dataset.pause;
      play.setAttribute("aria-pressed", "true");
      timer = window.setInterval(step, 600);
    });
    // The slider's form only matters without this script: keep Enter from reloading the page.
    slider.form.addEventListener("submit", function (event) { event.preventDefault(); });
    show(Number(slider.value));
  }

  function setUpAll(scope) {
    (scope || document).querySelectorAll("[data-replay]").forEach(setUp);
  }

  document.addEventListener("DOMContentLoaded", function () { setUpAll(document); });
  document.addEventListener("htmx:load", function (event) { setUpAll(event.target); });
})();
