// Draw the search results on a Leaflet map. The list on the page holds everything the map shows, so the map is
// an aid, not the only way in: markers are numbered like the list and are not extra tab stops, and when the
// OpenStreetMap tiles cannot load (offline) the markers stay on a plain background.
(function () {
  "use strict";
  var container = document.getElementById("results-map");
  var dataElement = document.getElementById("results-data");
  if (!container || !dataElement || typeof L === "undefined") {
    return; // without Leaflet the container keeps its note and the list stays complete
  }
  var data = JSON.parse(dataElement.textContent);
  var status = document.getElementById("map-status");

  container.textContent = "";
  var map = L.map(container, { scrollWheelZoom: false, zoomSnap: 0.5 });

  var tiles = L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
    maxZoom: 18,
    attribution: '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
  });
  var tileErrors = 0;
  tiles.on("tileerror", function () {
    tileErrors += 1;
    if (tileErrors === 1 && status) {
      container.classList.add("results-map--offline");
      status.textContent = "The background map could not load; the markers show where each practice is.";
      status.hidden = false;
    }
  });
  tiles.addTo(map);

  var origin = [data.origin.lat, data.origin.lng];
  var bounds = L.latLngBounds([origin]);
  L.circle(origin, {
    radius: data.radius_miles * 1609.344,
    color: "#0b5cad",
    weight: 1,
    fillOpacity: 0.04,
    interactive: false,
  }).addTo(map);
  // The search origin (explained by the legend under the map; not an extra tab stop).
  L.circleMarker(origin, {
    radius: 6,
    color: "#1b2430",
    weight: 2,
    fillColor: "#ffffff",
    fillOpacity: 1,
    interactive: false,
  }).addTo(map);
  var legend = document.getElementById("map-legend");
  if (legend) {
    legend.hidden = false;
  }

  // Practices placed at the same ZIP centroid would hide each other: fan those markers out a few pixels.
  var seen = {};
  data.markers.forEach(function (item, position) {
    var point = [item.lat, item.lng];
    bounds.extend(point);
    var key = item.lat.toFixed(5) + "," + item.lng.toFixed(5);
    var index = seen[key] || 0;
    seen[key] = index + 1;
    var angle = index * 2.4; // golden-angle spiral
    var spread = index === 0 ? 0 : 18 + 6 * Math.sqrt(index);
    var dx = Math.round(Math.cos(angle) * spread);
    var dy = Math.round(Math.sin(angle) * spread);
    var icon = L.divIcon({
      className: "map-marker" + (item.beyond ? " map-marker--beyond" : ""),
      html: "<span>" + item.rank + "</span>",
      iconSize: [28, 28],
      iconAnchor: [14 - dx, 14 - dy],
      popupAnchor: [dx, dy - 14],
    });
    var popup = document.createElement("div");
    var link = document.createElement("a");
    link.href = item.url;
    link.textContent = item.name;
    var details = document.createElement("div");
    details.textContent =
      item.practice + ", " + item.place + " · " + item.distance + " miles" + (item.beyond ? " (beyond your distance)" : "");
    popup.appendChild(link);
    popup.appendChild(details);
    L.marker(point, { icon: icon, keyboard: false, title: item.rank + ". " + item.name, alt: item.name, zIndexOffset: -1000 * position })
      .bindPopup(popup)
      .addTo(map);
  });

  map.fitBounds(bounds, { padding: [30, 30], maxZoom: 12 });
})();
