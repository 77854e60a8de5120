// Draw the search results on a Leaflet map. The list on the page holds everything the map shows, so the map is
// an aid, not the only way in: markers are numbered like the list and are not extra tab stops.
// By default the map asks no third party for anything: the markers sit on US state outlines served by this site
// (static/geo/us-states.geojson). A tile layer is drawn only when the operator configured one (SIJ_MAP_TILE_URL,
// docs/operations.md); if its tiles cannot load, the outlines and markers stay.
(function () {
  "use strict";
  var container = document.getElementById("results-map");
  var dataElement = document.getElementById("results-data");
  if (!container || !dataElement || typeof L === "undefined") {
    return; // without Leaflet the container keeps its note and the list stays complete
  }
  var data = JSON.parse(dataElement.textContent);
  var text = data.text || {}; // the page's language (referral/views.py map_data)
  var status = document.getElementById("map-status");

  // Results across the antimeridian (Guam, American Samoa, the western Aleutians) must lie on the side they are
  // on from the origin: every longitude is moved by whole turns into the 360 degrees centred on the origin's, so
  // from Guam, Hawaii is drawn to the east (202 degrees) and from Chicago, Guam to the west of Hawaii (-215).
  var centre = data.origin.lng;
  function near(lng) {
    return lng + 360 * Math.round((centre - lng) / 360);
  }
  // A ring of an outline moves as a whole (by the turns its first corner needs), so no ring is torn apart.
  function shiftRings(coordinates) {
    if (typeof coordinates[0][0] === "number") {
      var turn = near(coordinates[0][0]) - coordinates[0][0];
      return coordinates.map(function (position) {
        return [position[0] + turn, position[1]];
      });
    }
    return coordinates.map(shiftRings);
  }

  container.textContent = "";
  var map = L.map(container, { scrollWheelZoom: false, zoomSnap: 0.5 });

  var config = container.dataset;
  if (config.tileUrl) {
    var tiles = L.tileLayer(config.tileUrl, { maxZoom: 18, attribution: config.tileAttribution || "" });
    var tileErrors = 0;
    tiles.on("tileerror", function () {
      tileErrors += 1;
      if (tileErrors === 1 && status) {
        container.classList.add("results-map--offline");
        status.textContent = text.tiles_failed;
        status.hidden = false;
      }
    });
    tiles.addTo(map);
  }
  if (config.outlines) {
    // Under the radius circle and the markers: a pane between the tiles (200) and the overlays (400).
    map.createPane("outlines").style.zIndex = 300;
    fetch(config.outlines)
      .then(function (response) {
        return response.ok ? response.json() : Promise.reject(response.status);
      })
      .then(function (outlines) {
        outlines.features.forEach(function (feature) {
          feature.geometry.coordinates = shiftRings(feature.geometry.coordinates);
        });
        L.geoJSON(outlines, {
          pane: "outlines",
          interactive: false,
          style: { color: "#8a97a8", weight: 1, fillColor: "#f7f9fb", fillOpacity: config.tileUrl ? 0 : 1 },
        }).addTo(map);
        map.attributionControl.addAttribution(outlines.attribution);
        fit(); // the longer attribution may take a second line on a phone
      })
      .catch(function () {}); // without outlines the markers still sit on the plain background
  }

  // Fit the origin and every marker: half a marker beyond its farthest fanned-out position, clear of the zoom
  // buttons (top left) and the attribution (bottom right), so no marker is cut or hidden. Once the patient has
  // moved the map, it stays where they put it.
  var touched = false;
  function fit() {
    if (touched) {
      return;
    }
    var padding = 14 + 6 + Math.ceil(widestSpread);
    var zoom = map.zoomControl.getContainer();
    var attribution = map.attributionControl.getContainer();
    map.fitBounds(bounds, {
      paddingTopLeft: [padding + zoom.offsetLeft + zoom.offsetWidth, padding],
      paddingBottomRight: [padding, padding + attribution.offsetHeight],
      maxZoom: 12,
      animate: false,
    });
  }

  var origin = [data.origin.lat, near(data.origin.lng)];
  var bounds = L.latLngBounds([origin]);
  L.circle(origin, {
    radius: data.radius_miles * 1609.344,
    color: "#0b5cad",
    weight: 1,
    fillOpacity: 0.04,
    interactive: false,
  }).addTo(map);
  // The search origin (explained by the legend under the map; not an extra tab stop), in a pane above the
  // markers (600) and below the popups (700), so no marker covers it.
  map.createPane("origin").style.zIndex = 650;
  L.circleMarker(origin, {
    pane: "origin",
    className: "map-origin",
    radius: 7,
    color: "#1b2430",
    weight: 3,
    fillColor: "#ffffff",
    fillOpacity: 1,
    interactive: false,
  }).addTo(map);
  var legend = document.getElementById("map-legend");
  if (legend) {
    legend.hidden = false;
  }

  // Practices placed at the same ZIP centroid would hide each other: fan those markers out a few pixels. The
  // origin takes the centre of its own spot, so a practice in the searched ZIP sits beside the dot, not under it.
  function spot(lat, lng) {
    return lat.toFixed(5) + "," + lng.toFixed(5);
  }
  var seen = {};
  seen[spot(origin[0], origin[1])] = 1;
  var widestSpread = 0;
  data.markers.forEach(function (item, position) {
    var point = [item.lat, near(item.lng)];
    bounds.extend(point);
    var key = spot(point[0], point[1]);
    var index = seen[key] || 0;
    seen[key] = index + 1;
    var angle = index * 2.4; // golden-angle spiral
    var spread = index === 0 ? 0 : 24 + 6 * Math.sqrt(index); // the first ring clears the origin dot
    var dx = Math.round(Math.cos(angle) * spread);
    var dy = Math.round(Math.sin(angle) * spread);
    widestSpread = Math.max(widestSpread, spread);
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
      item.practice + ", " + item.place + " · " + item.distance_label + (item.beyond ? " " + text.beyond : "");
    popup.appendChild(link);
    popup.appendChild(details);
    L.marker(point, { icon: icon, keyboard: false, title: item.rank + ". " + item.name, alt: item.name, zIndexOffset: -1000 * position })
      .bindPopup(popup)
      .addTo(map);
  });

  fit();
  container.addEventListener("pointerdown", function () {
    touched = true;
  });
  container.addEventListener("keydown", function () {
    touched = true;
  });
})();
